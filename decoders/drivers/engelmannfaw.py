"""Engelmann FAW radio water meter (EFE v0x00, types 0x06/0x07/0x16): standard records, ``01FD17`` flags.

Flags (wmbusmeters ``engelmann_faw.xmq``): 0x01 volume-detection coils defect, 0x02 reset, 0x04 CRC error
(→ error), 0x08 removal detected, 0x10 magnetic manipulation, 0x20 leakage, 0x40 blocked, 0x80 reverse flow.
Storage 1 = volume and date at the reporting (billing) date, storages 2–16 = month ends 1–15 months ago. The
meter also sends compact frames; their format is in ``decoders.compact_table``.
"""

from __future__ import annotations

from datetime import date, datetime

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

FLAGS = AlarmBits(
    current={
        0x01: Alarm.ERROR,
        0x04: Alarm.ERROR,
        0x08: Alarm.REMOVED,
        0x10: Alarm.MAGNETIC,
        0x20: Alarm.LEAK,
        0x40: Alarm.BLOCKED,
        0x80: Alarm.REVERSE_FLOW,
    }
)


def extract(frame: Frame) -> Fields:
    """Standard fields with the FAW flag table."""
    return oms_fields(frame, FLAGS)


_KEY = bytes.fromhex("5CDB04C8EDFDC09EC49B5E76A24D4822")

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "EFE", "22862420", 0x00, 0x07, 0x70, 0x00,
        [
            enc.billing_date(date(2025, 12, 31)),
            enc.billing_volume(228.854),
            enc.record(0x01, b"\xfd\x17", b"\x20"),
            *(enc.volume(v, storage=s) for s, v in ((2, 252.159), (3, 245.162), (4, 239.697))),
            enc.date_time(datetime(2026, 5, 4, 11, 58)),
            enc.volume(253.409),
        ],
        mode=5,
        key=_KEY,
        long_header=True,
        link_manufacturer="EFE",
        link_meter_id="43000255",
        link_version=0x01,
        link_device_type=0x07,
    )
    return (
        Case(
            _CASE.hex(),
            _KEY.hex(),
            {
                "meter_id": "22862420",
                "total_m3": 253.409,
                "target_m3": 228.854,
                "target_date": "2025-12-31",
                "alarms": ["leak"],
                "history": (
                    (1, date(2025, 12, 31), 228.854),
                    (2, None, 252.159),
                    (3, None, 245.162),
                    (4, None, 239.697),
                ),
            },
            note="built with our encoder; flags 0x20 = leakage",
        ),
    )


DRIVER = Driver(
    name="engelmann_faw",
    matches=(Match("EFE", frozenset({0x00}), frozenset({0x06, 0x07, 0x16})),),
    extract=extract,
    oms=(FLAGS, True),
    description="Engelmann FAW radio water meter.",
    cases=_cases,
)
