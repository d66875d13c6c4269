"""Zenner ZRI v0x0B ("zenner0b"): mode 5, manufacturer data after ``0F``.

``0F | status (4 LE) | target (4 LE) | total (4 LE)``, volumes in 1/256000 m³ (fact sheet §4.7; the
wmbusmeters driver maps them to ``04FF0B/0C/0D``). Any status bit is reported as ``error``.
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.errors import DriverError
from decoders.frame import Frame

UNITS_PER_M3 = 256000


def extract(frame: Frame) -> Fields:
    """Status, target and total from the manufacturer block."""
    data = frame.manufacturer_data
    if data is None or len(data) < 12:
        return oms_fields(frame)
    if len(data) < 12:
        raise DriverError("zenner0b: manufacturer block shorter than 12 bytes")
    status = int.from_bytes(data[0:4], "little")
    f = oms_fields(frame, use_status=True)
    f["target_m3"] = int.from_bytes(data[4:8], "little") / UNITS_PER_M3
    f["total_m3"] = int.from_bytes(data[8:12], "little") / UNITS_PER_M3
    if status:
        f["alarms"].add(Alarm.ERROR)
    return f


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "ZRI",
        "50087367",
        0x0B,
        0x16,
        0xD8,
        0x00,
        [b"\x0f" + (0).to_bytes(4, "little") + (256000).to_bytes(4, "little") + (512000).to_bytes(4, "little")],
        mode=5,
        key=bytes(16),
    )
    return (
        Case(
            _CASE.hex(),
            "00" * 16,
            {"meter_id": "50087367", "total_m3": 2.0, "target_m3": 1.0, "alarms": []},
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="zenner0b",
    matches=(Match("ZRI", frozenset({0x0B}), None),),
    extract=extract,
    description="Zenner module v0x0B with proprietary volume block.",
    cases=_cases,
)
