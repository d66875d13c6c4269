"""A drive-by route: the meters to read, with address, coordinates and (optionally) their AES keys.

CSV columns ``meter_id,address,lat,lon[,key][,manufacturer]`` or JSON ``{"route_id": …, "meters": [{…}]}``
(a bare list works too). Only the keys of the route's own meters travel to the van.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from collectors.errors import CollectorError


@dataclass(frozen=True)
class RouteMeter:
    """One meter to read."""

    meter_id: str
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    key_hex: str | None = None
    manufacturer: str | None = None


@dataclass(frozen=True)
class Route:
    """The meters of one drive-by round."""

    route_id: str
    meters: tuple[RouteMeter, ...]

    def ids(self) -> set[str]:
        """Meter ids on the route."""
        return {m.meter_id for m in self.meters}

    def keys(self) -> dict[str, str]:
        """meter id → hex AES key, for the meters that have one."""
        return {m.meter_id: m.key_hex for m in self.meters if m.key_hex}


def _meter(row: dict[str, object]) -> RouteMeter:
    def num(name: str) -> float | None:
        value = row.get(name)
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]

    meter_id = str(row.get("meter_id") or "").strip().upper()
    if not meter_id:
        raise CollectorError(f"route row without meter_id: {row}")
    return RouteMeter(meter_id=meter_id.zfill(8), address=str(row.get("address") or ""), lat=num("lat"),
                      lon=num("lon"), key_hex=str(row.get("key") or "") or None,
                      manufacturer=str(row.get("manufacturer") or "") or None)


def load_route(path: Path | str) -> Route:
    """Read a route from a ``.csv`` or ``.json`` file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            rows = doc["meters"] if isinstance(doc, dict) else doc
            route_id = str(doc.get("route_id", path.stem)) if isinstance(doc, dict) else path.stem
        else:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            route_id = path.stem
    except (OSError, ValueError, KeyError) as exc:
        raise CollectorError(f"route {path}: {exc}") from exc
    return Route(route_id=route_id, meters=tuple(_meter(r) for r in rows))
