"""Per-process snapshots behind the dashboard's fleet-wide endpoints (overview read rate, map data).

What is costly and changes slowly is recomputed at most every ``TTL_S`` seconds per worker process: the current
period's read service points (actual readings and meter-stored values) and read-rate rows (their cost grows with
the readings of the period), and the map's static layer (positions, areas, legalization and no-meter bits) with
its JSON arrays already encoded. Open alerts are not cached: the map asks for them on every request, so an
acknowledged or resolved alert shows at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import psycopg
from starlette.requests import Request

from storage import ui_data as store

TTL_S = 60.0
T = TypeVar("T")


class Cached(Generic[T]):
    """One value per key, recomputed when the key changes or it is older than ``TTL_S`` (one at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Any = None
        self.at = 0.0
        self.value: T | None = None

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed by ``compute`` when missing or stale."""
        with self.lock:
            if self.value is None or self.key != key or time.monotonic() - self.at > TTL_S:
                self.value = compute()
                self.key, self.at = key, time.monotonic()
            return self.value


@dataclass(frozen=True, slots=True)
class MapStatic:
    """The map's slowly changing layer: per point area name and bits, and the encoded id/lat/lon/area arrays."""

    ids: list[str]
    lat: list[float]
    lon: list[float]
    areas: list[str]  # area name per point
    bits: list[int]
    names: list[str]  # every area, sorted
    json_ids: str
    json_lat: str
    json_lon: str
    json_area: str  # index into names


def _encode(rows: list[tuple[str, float, float, str, int]]) -> MapStatic:
    names = sorted({r[3] for r in rows if r[3]})
    index = {a: i for i, a in enumerate(names)}
    dump = json.JSONEncoder(separators=(",", ":")).encode
    return MapStatic(ids=[r[0] for r in rows], lat=[r[1] for r in rows], lon=[r[2] for r in rows],
                     areas=[r[3] for r in rows], bits=[r[4] for r in rows], names=names,
                     json_ids=dump([r[0] for r in rows]), json_lat=dump([r[1] for r in rows]),
                     json_lon=dump([r[2] for r in rows]), json_area=dump([index.get(r[3], -1) for r in rows]))


class Snapshots:
    """The snapshots of one app (kept on ``app.state`` so apps over different databases never share them)."""

    def __init__(self) -> None:
        self.read: Cached[tuple[set[str], list[dict[str, Any]]]] = Cached()
        self.map: Cached[MapStatic] = Cached()

    def read_rate(self, conn: psycopg.Connection, start: datetime, end: datetime, zone: str
                  ) -> tuple[set[str], list[dict[str, Any]]]:
        """The read service points of ``[start, end)`` (an actual reading or a meter-stored value dated in the
        local days of ``zone``) and the read-rate rows."""
        def compute() -> tuple[set[str], list[dict[str, Any]]]:
            actual = store.read_service_points(conn, start=start, end=end)
            stored = store.stored_service_points(conn, start=start, end=end, zone=zone)
            return actual | stored, store.read_rate(conn, start=start, end=end, actual=actual, stored=stored)
        return self.read.get((start, end, zone), compute)

    def map_static(self, conn: psycopg.Connection, at: datetime, today: date, due_days: int) -> MapStatic:
        """The map's static layer as of ``today``."""
        return self.map.get((today, due_days), lambda: _encode(
            store.map_static(conn, at=at, today=today, due_days=due_days)))


def of(request: Request) -> Snapshots:
    """The app's snapshots (created on first use)."""
    state = request.app.state
    snaps = getattr(state, "ui_snapshots", None)
    if snaps is None:
        snaps = state.ui_snapshots = Snapshots()
    return snaps
