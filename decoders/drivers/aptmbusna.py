"""Apator APT-MBUS-NA-1 (wired M-Bus, APA v0x15 type 0x07): standard records in a long frame, 24-bit ``03FD17``.

Flags (wmbusmeters ``aptmbusna.xmq``; domain notes §3.2): the first byte holds "has been detected" flags (0x01
magnetic field, 0x02 strong light, 0x04 M-Bus disconnected, 0x08 detection without changes, 0x10 minimum flow,
0x20 maximum flow, 0x40 reverse flow, 0x80 leak — the source writes it 0x0000800, a typo: 0x800 is the detector
error of the second byte), the second byte 0x0100 processor reset, 0x0200 clock hand error, 0x0400 battery low,
0x0800 detector error, the third byte the same conditions "being detected" now (0x01–0x80 shifted by 16).
Optical magnetic/light manipulation counts as tamper. The TPL status byte is read with the standard bits.
"""

from __future__ import annotations

from datetime import date, datetime

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

FLAGS = AlarmBits(
    current={
        0x000400: Alarm.BATTERY_LOW,
        0x000800: Alarm.ERROR,
        0x010000: Alarm.MAGNETIC,
        0x020000: Alarm.TAMPER,
        0x400000: Alarm.REVERSE_FLOW,
    },
    history={0x000001: Alarm.MAGNETIC, 0x000002: Alarm.TAMPER, 0x000040: Alarm.REVERSE_FLOW, 0x000080: Alarm.LEAK},
)


def extract(frame: Frame) -> Fields:
    """Standard fields with the NA-1 flag table."""
    return oms_fields(frame, FLAGS)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_wired(
        "APA", "00683775", 0x15, 0x07,
        [
            enc.date_time(datetime(2026, 4, 24, 20, 29)),
            enc.volume(16.119),
            enc.record(0x02, 0x3B, (13).to_bytes(2, "little")),
            enc.billing_volume(0.389),
            enc.billing_date(date(2026, 4, 1)),
            enc.record(0x03, b"\xfd\x17", (0x1000C0).to_bytes(3, "little")),  # leak + reverse before, min flow now
        ],
        access_number=0xCC,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {
                "meter_id": "00683775",
                "manufacturer": "APA",
                "total_m3": 16.119,
                "target_m3": 0.389,
                "target_date": "2026-04-01",
                "flow_m3h": 0.013,
                "alarms": [],
                "alarms_history": ["leak", "reverse_flow"],
                "history": ((1, date(2026, 4, 1), 0.389),),
            },
            note="built with our encoder (wired long frame)",
        ),
    )


DRIVER = Driver(
    name="aptmbusna",
    matches=(Match("APA", frozenset({0x15}), frozenset({0x07})),),
    extract=extract,
    oms=(FLAGS, True),
    description="Apator APT-MBUS-NA-1 wired M-Bus water meter.",
    cases=_cases,
)
