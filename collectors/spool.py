"""The gateway's on-disk spool: every frame is written here before it is published, and deleted only
after the broker acknowledged it.

SQLite in WAL mode, one table, rows ordered by an AUTOINCREMENT sequence (never reused, so an ack for an old
range can never delete newer rows). ``synchronous=FULL`` by default: a committed frame survives ``kill -9``
and power loss; NORMAL survives ``kill -9`` only (faster on slow SD cards).

Full-spool policy: the spool is bounded by ``max_frames``. When an outage outlasts it, the **oldest** frames
are dropped to make room (meters repeat cumulative totals, so the newest frames carry the most billing value),
counted in :attr:`Spool.dropped` and logged as an error. This file is the gateway's local buffer, not a store
of record: ``storage/`` owns the database.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from datetime import datetime
from pathlib import Path

from collectors.private_files import private_file
from core.types import LinkMode, Position, RawFrame

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    payload BLOB NOT NULL,
    source TEXT NOT NULL,
    rssi_dbm REAL,
    link_mode TEXT NOT NULL,
    lat REAL, lon REAL, fix_at TEXT, hdop REAL
)
"""
_COLUMNS = "received_at, payload, source, rssi_dbm, link_mode, lat, lon, fix_at, hdop"


def _row(frame: RawFrame) -> tuple[object, ...]:
    pos = frame.position
    return (frame.received_at.isoformat(), frame.payload, frame.source, frame.rssi_dbm, str(frame.link_mode),
            pos.lat if pos else None, pos.lon if pos else None,
            pos.fix_at.isoformat() if pos and pos.fix_at else None, pos.hdop if pos else None)


# One ``frames`` row after ``seq``, as SQLite returns it for the columns of ``_COLUMNS``.
_FrameRow = tuple[str, bytes, str, float | None, str, float | None, float | None, str | None, float | None]


def _frame(row: _FrameRow) -> RawFrame:
    received_at, payload, source, rssi, mode, lat, lon, fix_at, hdop = row
    position = None
    if lat is not None and lon is not None:
        position = Position(lat=float(lat), lon=float(lon),
                            fix_at=datetime.fromisoformat(str(fix_at)) if fix_at else None,
                            hdop=float(hdop) if hdop is not None else None)
    return RawFrame(payload=bytes(payload), received_at=datetime.fromisoformat(str(received_at)),
                    source=str(source), rssi_dbm=float(rssi) if rssi is not None else None,
                    link_mode=LinkMode(str(mode)), position=position)


class Spool:
    """A bounded FIFO of frames on disk. Use from one thread (the gateway worker)."""

    def __init__(self, path: Path | str, *, max_frames: int = 5_000_000, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        private_file(self.path)  # 0600 (its -wal/-shm too), directories created 0700: frames hold meter data
        self.max_frames = max_frames
        self.dropped = 0
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self.depth = int(self._db.execute("SELECT count(*) FROM frames").fetchone()[0])
        # the spool's own id, named in receipts (a new spool file never takes an old file's receipts)
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('spool_id', ?)", (secrets.token_hex(8),))
        self.spool_id = str(self._db.execute("SELECT value FROM meta WHERE key = 'spool_id'").fetchone()[0])

    def append(self, frames: list[RawFrame]) -> int:
        """Append frames in one transaction; return how many old frames were dropped to make room."""
        if not frames:
            return 0
        overflow = max(0, self.depth + len(frames) - self.max_frames)
        with self._tx():
            if overflow:
                oldest = "SELECT seq FROM frames ORDER BY seq LIMIT ?"
                self._db.execute(f"DELETE FROM frames WHERE seq IN ({oldest})", (overflow,))
            self._db.executemany(f"INSERT INTO frames ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                                 [_row(f) for f in frames])
        self.depth += len(frames) - overflow
        self.dropped += overflow
        return overflow

    def fetch(self, after_seq: int, limit: int) -> list[tuple[int, RawFrame]]:
        """Up to ``limit`` frames with ``seq > after_seq``, oldest first."""
        rows = self._db.execute(f"SELECT seq, {_COLUMNS} FROM frames WHERE seq > ? ORDER BY seq LIMIT ?",
                                (after_seq, limit)).fetchall()
        return [(int(r[0]), _frame(r[1:])) for r in rows]

    def fetch_range(self, first: int, last: int) -> list[tuple[int, RawFrame]]:
        """Frames still spooled with ``first <= seq <= last`` (for re-sending a batch)."""
        rows = self._db.execute(f"SELECT seq, {_COLUMNS} FROM frames WHERE seq BETWEEN ? AND ? ORDER BY seq",
                                (first, last)).fetchall()
        return [(int(r[0]), _frame(r[1:])) for r in rows]

    def delete_range(self, first: int, last: int) -> int:
        """Delete acknowledged frames ``first..last``; return how many rows went."""
        with self._tx():
            removed = self._db.execute("DELETE FROM frames WHERE seq BETWEEN ? AND ?", (first, last)).rowcount
        self.depth -= removed
        return removed

    def oldest_received_at(self) -> datetime | None:
        """Receive time of the oldest spooled frame (how far behind the gateway is)."""
        row = self._db.execute("SELECT received_at FROM frames ORDER BY seq LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def close(self) -> None:
        """Close the database (WAL is checkpointed by SQLite)."""
        self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
