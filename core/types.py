"""Frozen cross-layer types: what a receiver heard, what a meter reading is, what an alert is.

Units are in names (``total_m3``, ``flow_m3h``, ``rssi_dbm``); every datetime is timezone-aware UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


def _require_utc(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() != timedelta(0)):
        raise ValueError(f"{name} must be a timezone-aware UTC datetime, got {value!r}")


class LinkMode(enum.StrEnum):
    """wM-Bus radio mode a frame was received in (EN 13757-4)."""

    S1 = "S1"
    T1 = "T1"
    C1 = "C1"
    C1A = "C1A"  # C1 frame format A, when the receiver reports it
    C1B = "C1B"  # C1 frame format B
    UNKNOWN = "unknown"


class ReadingSource(enum.StrEnum):
    """How a reading came to be: heard by a fixed gateway, a drive-by crew, typed in, or estimated."""

    RADIO = "radio"
    DRIVEBY = "drive-by"
    MANUAL = "manual"
    ESTIMATED = "estimated"


class Alarm(enum.StrEnum):
    """The fixed vocabulary of meter-reported current conditions."""

    LEAK = "leak"
    BURST = "burst"
    REVERSE_FLOW = "reverse_flow"
    DRY = "dry"
    TAMPER = "tamper"
    MAGNETIC = "magnetic"
    BLOCKED = "blocked"
    REMOVED = "removed"
    BATTERY_LOW = "battery_low"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Position:
    """A GPS fix (WGS84 decimal degrees) and when it was taken."""

    lat: float
    lon: float
    fix_at: datetime | None = None
    hdop: float | None = None

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"position out of range: {self.lat}, {self.lon}")
        _require_utc("fix_at", self.fix_at)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One wM-Bus frame as a receiver delivered it, with its reception metadata.

    ``payload`` is the link-layer frame starting with the L-field; it may still carry the DLL CRCs
    (format A or B) — the decoder strips them.
    """

    payload: bytes
    received_at: datetime
    source: str
    rssi_dbm: float | None = None
    link_mode: LinkMode = LinkMode.UNKNOWN
    position: Position | None = None

    def __post_init__(self) -> None:
        _require_utc("received_at", self.received_at)
        if not self.payload:
            raise ValueError("empty frame payload")


@dataclass(frozen=True, slots=True)
class Reading:
    """A meter's register values at one moment, normalised across drivers."""

    meter_id: str
    manufacturer: str
    measured_at: datetime
    received_at: datetime
    total_m3: float | None
    source: ReadingSource = ReadingSource.RADIO
    target_m3: float | None = None
    target_date: date | None = None
    backward_m3: float | None = None
    flow_m3h: float | None = None
    alarms: frozenset[Alarm] = frozenset()
    access_number: int | None = None

    def __post_init__(self) -> None:
        _require_utc("measured_at", self.measured_at)
        _require_utc("received_at", self.received_at)


class Severity(enum.StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition a rule found for one meter (or service point), with the numbers that triggered it."""

    kind: str
    meter_key: int
    severity: Severity
    detected_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    service_point: str | None = None

    def __post_init__(self) -> None:
        _require_utc("detected_at", self.detected_at)


# Storage codes. Stable: they are written to the database (readings.alarms bit mask, readings.source).
ALARM_BITS: dict[Alarm, int] = {alarm: 1 << i for i, alarm in enumerate(Alarm)}
SOURCE_CODES: dict[ReadingSource, int] = {
    ReadingSource.RADIO: 0,
    ReadingSource.DRIVEBY: 1,
    ReadingSource.MANUAL: 2,
    ReadingSource.ESTIMATED: 3,
}
SOURCE_BY_CODE: dict[int, ReadingSource] = {code: src for src, code in SOURCE_CODES.items()}


def alarm_mask(alarms: frozenset[Alarm] | set[Alarm]) -> int:
    """Alarms → the integer bit mask stored in ``readings.alarms``."""
    mask = 0
    for alarm in alarms:
        mask |= ALARM_BITS[alarm]
    return mask


def alarms_from_mask(mask: int) -> frozenset[Alarm]:
    """Inverse of :func:`alarm_mask`."""
    return frozenset(alarm for alarm, bit in ALARM_BITS.items() if mask & bit)
