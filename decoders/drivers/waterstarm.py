"""Engelmann / DWZ WaterStar M (DWZ, EFE): standard records; ``02FD17`` bits: 0x0001 leakage or no usage
(wmbusmeters reports LEAKAGE_OR_NO_USAGE), other bits → error; TPL status 0x04 → battery low.

Source: fact sheet V7, wmbusmeters ``waterstarm.xmq``."""

from __future__ import annotations

from datetime import datetime

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

FLAGS = AlarmBits(current={0x0001: Alarm.LEAK, 0xFFFE: Alarm.ERROR})


def extract(frame: Frame) -> Fields:
    """Standard OMS fields with the meter's flag table."""
    return oms_fields(frame, FLAGS)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "DWZ",
        "20096221",
        0x02,
        0x06,
        0x36,
        0x04,
        [
            enc.date_time(datetime(2020, 7, 30, 10, 40)),
            enc.total_volume(0.106),
            enc.error_flags(0),
            enc.backward_volume(0.0),
        ],
        mode=5,
        key=bytes.fromhex("BEDB81B52C29B5C143388CBB0D15A051"),
    )
    return (
        Case(
            _CASE.hex(),
            "BEDB81B52C29B5C143388CBB0D15A051",
            {"meter_id": "20096221", "total_m3": 0.106, "total_backward_m3": 0.0, "alarms": ["battery_low"]},
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="waterstarm",
    matches=(Match("DWZ"), Match("EFE")),
    extract=extract,
    oms=(FLAGS, True),
    description="Engelmann WaterStar M water meter.",
    cases=_cases,
)
