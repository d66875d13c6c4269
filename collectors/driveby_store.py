"""The drive-by van's local store (SQLite WAL): every frame heard, the GPS track and the route, kept offline
until ``odczyt driveby sync`` has had each frame acknowledged by the broker (``sent`` = 1, never resent).

Like the gateway spool this is a device-local buffer, not the store of record (that is ``storage/``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.private_files import private_file
from collectors.route import Route, RouteMeter
from core.types import LinkMode, Position, RawFrame

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, payload BLOB NOT NULL,
    source TEXT NOT NULL, rssi_dbm REAL, link_mode TEXT NOT NULL, lat REAL, lon REAL, fix_at TEXT,
    hdop REAL, meter_id TEXT, manufacturer TEXT, total_m3 REAL, on_route INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS track (received_at TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_FRAME_COLS = "received_at, payload, source, rssi_dbm, link_mode, lat, lon, fix_at, hdop"


class DrivebyStore:
    """One drive-by session's file. Thread-safe through one connection guarded by SQLite's own lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        private_file(self.path)  # 0600 (its -wal/-shm too), directories created 0700: addresses, positions, totals
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def save_route(self, route: Route) -> None:
        """Remember the route (keys excluded) so report and sync work without the route file."""
        meters = [{**asdict(m), "key_hex": None} for m in route.meters]
        doc = json.dumps({"route_id": route.route_id, "meters": meters})
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('route', ?)", (doc,))

    def route(self) -> Route:
        """The route saved with :meth:`save_route`."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'route'").fetchone()
        doc: dict[str, Any] = json.loads(row[0]) if row else {"route_id": "", "meters": []}
        return Route(doc["route_id"], tuple(RouteMeter(**m) for m in doc["meters"]))

    def add_frame(self, frame: RawFrame, meter_id: str | None, manufacturer: str | None,
                  total_m3: float | None, on_route: bool) -> None:
        """Store one heard frame with what was learned about its meter."""
        pos = frame.position
        self._db.execute(
            f"INSERT INTO frames ({_FRAME_COLS}, meter_id, manufacturer, total_m3, on_route) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (frame.received_at.isoformat(), frame.payload, frame.source, frame.rssi_dbm, str(frame.link_mode),
             pos.lat if pos else None, pos.lon if pos else None,
             pos.fix_at.isoformat() if pos and pos.fix_at else None, pos.hdop if pos else None,
             meter_id, manufacturer, total_m3, int(on_route)))

    def add_track(self, points: list[tuple[datetime, float, float]]) -> None:
        """Append GPS track points."""
        self._db.executemany("INSERT INTO track VALUES (?,?,?)", [(t.isoformat(), a, b) for t, a, b in points])

    def track(self) -> list[tuple[float, float]]:
        """The GPS track, in order."""
        return [(r[0], r[1]) for r in self._db.execute("SELECT lat, lon FROM track ORDER BY rowid")]

    def meters(self) -> dict[str, dict[str, object]]:
        """Per meter heard: frames, last time, best and last RSSI, last total, last position, on route."""
        rows = self._db.execute(
            "SELECT meter_id, count(*), max(received_at), max(rssi_dbm), max(on_route), "
            "(SELECT total_m3 FROM frames g WHERE g.meter_id = f.meter_id AND total_m3 IS NOT NULL "
            " ORDER BY seq DESC LIMIT 1), "
            "(SELECT lat FROM frames g WHERE g.meter_id = f.meter_id AND lat IS NOT NULL ORDER BY seq DESC LIMIT 1), "
            "(SELECT lon FROM frames g WHERE g.meter_id = f.meter_id AND lon IS NOT NULL ORDER BY seq DESC LIMIT 1) "
            "FROM frames f WHERE meter_id IS NOT NULL GROUP BY meter_id").fetchall()
        keys = ("frames", "last_heard_at", "best_rssi_dbm", "on_route", "total_m3", "lat", "lon")
        return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}

    def unsent(self, limit: int, after_seq: int = 0) -> list[tuple[int, RawFrame]]:
        """Frames the broker has not acknowledged yet, oldest first."""
        rows = self._db.execute(f"SELECT seq, {_FRAME_COLS} FROM frames WHERE sent = 0 AND seq > ? "
                                "ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
        return [(int(r[0]), _frame(r[1:])) for r in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        """Record the broker's acknowledgement of these frames."""
        self._db.executemany("UPDATE frames SET sent = 1 WHERE seq = ?", [(s,) for s in seqs])

    def counts(self) -> tuple[int, int]:
        """(frames stored, frames acknowledged by the broker)."""
        total, sent = self._db.execute("SELECT count(*), coalesce(sum(sent), 0) FROM frames").fetchone()
        return int(total), int(sent)


# One ``frames`` row after ``seq``, as SQLite returns it for the columns of ``_FRAME_COLS``.
_FrameRow = tuple[str, bytes, str, float | None, str, float | None, float | None, str | None, float | None]


def _frame(row: _FrameRow) -> RawFrame:
    received_at, payload, source, rssi, mode, lat, lon, fix_at, hdop = row
    pos = None
    if lat is not None and lon is not None:
        pos = Position(float(lat), float(lon),
                       datetime.fromisoformat(str(fix_at)) if fix_at else None,
                       float(hdop) if hdop is not None else None)
    return RawFrame(bytes(payload), datetime.fromisoformat(str(received_at)), str(source),
                    float(rssi) if rssi is not None else None, LinkMode(str(mode)), pos)
