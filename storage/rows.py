"""Row types the storage layer writes besides ``core.types.Reading``: raw frames and dead letters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class FrameStatus(enum.IntEnum):
    """What became of a raw frame (``raw_frames.status``; stable codes)."""

    DECODED = 0
    UNKNOWN_METER = 1   # decodable or not, the meter is not in the registry
    KEY_MISSING = 2     # encrypted and the registry has no key for it
    WRONG_KEY = 3       # every registered key failed the decryption check
    DECODE_ERROR = 4    # any other decoder failure (kept for a driver update and ``odczyt redecode``)


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """One distinct telegram as heard by one or more gateways (``raw_frames`` row).

    ``gateways``, ``rssi_dbm`` and ``heard_at`` are parallel: one entry per reception.
    """

    received_at: datetime
    frame_digest: bytes
    payload: bytes
    status: FrameStatus
    gateways: tuple[str, ...]
    rssi_dbm: tuple[float | None, ...]
    heard_at: tuple[datetime, ...]
    link_key: int | None = None
    meter_key: int | None = None
    error: str | None = None
    link_mode: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be parsed; ``payload`` is truncated by the writer."""

    digest: bytes
    topic: str
    reason: str
    detail: str
    payload: bytes
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch changed."""

    readings_inserted: int
    readings_duplicate: int
    frames_inserted: int
    frames_merged: int
    dead_letters: int
