"""Read endpoints of the dashboard pages: overview (read rate), compact map data, map base layer, gateway
coverage, pipeline health. Operations role; the lists here are capped by nature (areas × read modes, gateways,
one row per minute) except the map, which returns every positioned service point as parallel arrays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from api import ui_snapshot
from api.auth import Role, require
from api.deps import Conn
from api.params import Name
from core.settings import AnalyticsSettings
from storage import ui_data as store

router = APIRouter(prefix="/v1/ui", tags=["dashboard"], dependencies=[require(Role.operations)])
ZONE = ZoneInfo(AnalyticsSettings().timezone)
STATE_BITS = {"read": store.READ, "alert": store.ALERT, "legal_due": store.LEGAL_DUE,
              "legal_expired": store.LEGAL_EXPIRED, "no_meter": store.NO_METER}


def billing_period(now: datetime) -> tuple[datetime, datetime]:
    """The current billing period: the local calendar month containing ``now`` (as UTC instants)."""
    local = now.astimezone(ZONE)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first.astimezone(UTC), nxt.astimezone(UTC)


def _share(read: int, active: int) -> float | None:
    return round(read / active, 4) if active else None


@router.get("/overview")
def overview(conn: Conn, request: Request) -> dict[str, Any]:
    """Read rate of the current billing period (per area and read mode, and in total; at most
    ``api.ui_snapshot.TTL_S`` old) and frames per minute reported by the online gateways. Basis: a service
    point is read with an actual reading (radio, drive-by, manual) or a meter-stored value dated in the period;
    ``actual`` and ``meter_stored`` (only a meter-stored value) split ``read``, each with its share."""
    start, end = billing_period(datetime.now(UTC))
    rows = [dict(r) for r in ui_snapshot.of(request).read_rate(conn, start, end, str(ZONE))[1]]
    counts = ("active", "read", "actual", "meter_stored")
    by_mode: dict[str, dict[str, int]] = {}
    total = dict.fromkeys(counts, 0)
    for r in rows:
        acc = by_mode.setdefault(r["read_mode"], dict.fromkeys(counts, 0))
        for k in counts:
            acc[k] += r[k]
            total[k] += r[k]
    fpm = conn.execute("SELECT sum(frames_per_min) FROM gateways WHERE state = 'online'").fetchone()
    return {"period": {"start": start, "end": end, "timezone": str(ZONE)}, "basis": "actual+meter_stored",
            "read_rate": {**_shares(total), "rows": [_shares(r) for r in rows],
                          "by_read_mode": [{"read_mode": k, **_shares(v)} for k, v in sorted(by_mode.items())]},
            "frames_per_min": float(fpm[0]) if fpm and fpm[0] is not None else None}


def _shares(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "share": _share(r["read"], r["active"]), "share_actual": _share(r["actual"], r["active"]),
            "share_meter_stored": _share(r["meter_stored"], r["active"])}


def _arrays(static: ui_snapshot.MapStatic, state: list[int], area: str | None) -> tuple[str, int]:
    """The JSON members ``id, lat, lon, area, state`` of every point, or of one area's points."""
    if area is None:
        return (f'"id":{static.json_ids},"lat":{static.json_lat},"lon":{static.json_lon},'
                f'"area":{static.json_area},"state":{json.dumps(state)}'), len(state)
    pick = [n for n, a in enumerate(static.areas) if a == area]
    index = static.names.index(area) if area in static.names else -1
    return (f'"id":{json.dumps([static.ids[n] for n in pick])},"lat":{json.dumps([static.lat[n] for n in pick])},'
            f'"lon":{json.dumps([static.lon[n] for n in pick])},"area":{json.dumps([index] * len(pick))},'
            f'"state":{json.dumps([state[n] for n in pick])}'), len(pick)


@router.get("/map-data", responses={200: {"description": "parallel arrays, one entry per service point"}})
def map_data(conn: Conn, request: Request, area: Name | None = None,
             due_days: Annotated[int, Query(ge=0, le=3650)] = 90) -> Response:
    """Every service point with a position as compact parallel arrays (``id``, ``lat``, ``lon``, ``area`` as an
    index into ``areas``, ``state`` bit mask explained by ``bits``) for the current billing period (the read
    bit and the static layer at most ``api.ui_snapshot.TTL_S`` old; open alerts live)."""
    now = datetime.now(UTC)
    start, end = billing_period(now)
    today: date = now.astimezone(ZONE).date()
    snaps = ui_snapshot.of(request)
    read = snaps.read_rate(conn, start, end, str(ZONE))[0]
    static = snaps.map_static(conn, now, today, due_days)
    alerting = store.alerting_service_points(conn)
    alert, read_bit = store.ALERT, store.READ
    state = [b | (read_bit if i in read else 0) | (alert if i in alerting else 0)
             for i, b in zip(static.ids, static.bits, strict=True)]
    arrays, count = _arrays(static, state, area)
    head = json.dumps({"period": {"start": start.isoformat(), "end": end.isoformat()}, "bits": STATE_BITS,
                       "areas": static.names, "count": count}, separators=(",", ":"))
    return Response(head[:-1] + "," + arrays + "}", media_type="application/json")


@router.get("/map-config")
def map_config(request: Request) -> dict[str, Any]:
    """The map's base layer as configured (``ODCZYT_API__MAP_*``): osm tiles, the utility's WMS, or none."""
    conf = request.app.state.api_settings
    base = conf.map_base if conf.map_base != "wms" or conf.map_wms_url else "none"
    return {"base": base, "tiles_url": conf.map_tiles_url if base == "osm" else None,
            "wms_url": conf.map_wms_url if base == "wms" else None, "wms_layers": conf.map_wms_layers,
            "attribution": conf.map_attribution}


@router.get("/gateway-coverage")
def gateway_coverage(conn: Conn, days: Annotated[float, Query(gt=0, le=90)] = 7.0) -> dict[str, Any]:
    """Every gateway with its position, state, how many distinct meters it heard in the last ``days`` and its
    coverage from those receptions: ``coverage`` is the convex hull (``[lat, lon]`` vertices) of the gateway's
    position and the positions of the service points whose meters it heard, ``coverage_points`` how many such
    positions there were (docs/dashboard.md)."""
    rows = store.gateway_coverage(conn, since=datetime.now(UTC) - timedelta(days=days))
    return {"days": days, "items": rows}


@router.get("/pipeline")
def pipeline(conn: Conn, minutes: Annotated[int, Query(ge=5, le=1440)] = 60) -> dict[str, Any]:
    """Frames per minute (last ``minutes``), undecoded frames of the last 24 h by reason, dead letters by
    reason, and the ingest lag (age of the newest stored reading)."""
    return store.pipeline_health(conn, now=datetime.now(UTC), minutes=minutes)
