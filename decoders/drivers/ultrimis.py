"""Apator Ultrimis (APA v0x01/0x20, cold water): standard OMS records, alarms in ``03FD17``.

Bits (wmbusmeters ``ultrimisv2``, fact sheet §4.1): 0x01 tamper, 0x02 low battery, 0x04 dry, 0x08 no flow,
0x10 high temperature, 0x20 burst, 0x40 reverse, 0x80 leak; ×0x100 "this month", ×0x10000 "previous month"
(→ history). The TPL status byte is not an alarm source on these meters.
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

_BITS = {
    0x01: Alarm.TAMPER,
    0x02: Alarm.BATTERY_LOW,
    0x04: Alarm.DRY,
    0x20: Alarm.BURST,
    0x40: Alarm.REVERSE_FLOW,
    0x80: Alarm.LEAK,
}
FLAGS = AlarmBits(
    current=_BITS,
    history={**{m << 8: a for m, a in _BITS.items()}, **{m << 16: a for m, a in _BITS.items()}},
)


def extract(frame: Frame) -> Fields:
    """Standard fields; alarms only from the error flags."""
    return oms_fields(frame, FLAGS, use_status=False)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "APA",
        "95969798",
        0x01,
        0x16,
        0x4B,
        0x03,
        [enc.total_volume(3.122), enc.error_flags(0x000104, nbytes=3), enc.billing_volume(2.337)],
        mode=5,
        key=bytes(16),
    )
    return (
        Case(
            _CASE.hex(),
            "00" * 16,
            {
                "meter_id": "95969798",
                "total_m3": 3.122,
                "target_m3": 2.337,
                "alarms": ["dry"],
                "alarms_history": ["tamper"],
            },
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="ultrimis",
    matches=(Match("APA", frozenset({0x01, 0x20}), frozenset({0x16, 0x07, 0x06})),),
    extract=extract,
    oms=(FLAGS, False),
    description="Apator Ultrimis ultrasonic water meter.",
    cases=_cases,
)
