"""Zenner Minomess (+ radio modules, CI 0x72 long header) — standard records, ``02FD17`` flag table.

Flags (wmbusmeters ``minomess.xmq``, domain notes §3.1): 0x8000 bursting, 0x4000 removed, 0x2000 leaking,
0x0800 backflowing, 0x0004 battery EOL, 0x0008/0x0010 permanent/temporary error; "was" flags 0x1000 backflow,
0x0400 blocked, 0x0080 removed, 0x0040 tampered, 0x0020 leaking → history. The TPL status byte: the ZENNER
table (standard bits + 0x20/0x40/0x80 was leaking / tampered / removed → history; ``status.ZENNER``).
"""

from __future__ import annotations

from datetime import date

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.drivers.status import ZENNER
from decoders.frame import Frame

FLAGS = AlarmBits(
    current={
        0x8000: Alarm.BURST,
        0x4000: Alarm.REMOVED,
        0x2000: Alarm.LEAK,
        0x0800: Alarm.REVERSE_FLOW,
        0x0004: Alarm.BATTERY_LOW,
        0x0008: Alarm.ERROR,
        0x0010: Alarm.ERROR,
    },
    history={
        0x1000: Alarm.REVERSE_FLOW,
        0x0400: Alarm.BLOCKED,
        0x0080: Alarm.REMOVED,
        0x0040: Alarm.TAMPER,
        0x0020: Alarm.LEAK,
    },
)


def extract(frame: Frame) -> Fields:
    """Standard fields with the Minomess flag table."""
    return oms_fields(frame, FLAGS, use_status=ZENNER)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "ZRI",
        "21314151",
        0x01,
        0x16,
        0x36,
        0x00,
        [
            enc.volume(0.055, bcd=True),
            enc.billing_date(date(2024, 12, 31), storage=8),
            enc.volume(0.050, storage=8, bcd=True),
            enc.error_flags(0x2020),
        ],
        mode=5,
        key=bytes.fromhex("A1" * 16),
        long_header=True,
        link_manufacturer="ZRI",
        link_meter_id="55152544",
        link_version=0x18,
        link_device_type=0x37,
    )
    _WAS_TAMPERED = enc.encode_oms(
        "ZRI", "21314152", 0x00, 0x07, 0x37, 0x40, [enc.volume(1.5, bcd=True), enc.error_flags(0)],
        mode=5, key=bytes.fromhex("A1" * 16),
    )
    return (
        Case(
            _CASE.hex(),
            "A1" * 16,
            {
                "meter_id": "21314151",
                "manufacturer": "ZRI",
                "total_m3": 0.055,
                "target_m3": 0.05,
                "target_date": "2024-12-31",
                "alarms": ["leak"],
                "alarms_history": ["leak"],
            },
            note="built with our encoder",
        ),
        Case(
            _WAS_TAMPERED.hex(),
            "A1" * 16,
            {"meter_id": "21314152", "total_m3": 1.5, "alarms": [], "alarms_history": ["tamper"]},
            note="built with our encoder; TPL status 0x40 = was tampered (Zenner manufacturer bit)",
        ),
    )


DRIVER = Driver(
    name="minomess",
    matches=(Match("ZRI", frozenset({0x00, 0x01}), frozenset({0x06, 0x07, 0x16})),),
    extract=extract,
    oms=(FLAGS, ZENNER),
    description="Zenner Minomess water meter (usually behind a radio module with a long TPL header).",
    cases=_cases,
)
