"""Sontex Supercom 587 (SON v0x3C, types 0x06/0x07): standard records, ``02FD17`` error flags.

wmbusmeters (``driver_supercom587.cc``) reads only the low four bits of the error flags (mask 0x000F) and the
standard TPL status bits; higher flag bits are not errors for this meter. Records: ``0C13`` total, storage 1
volume/date (billing date; all zero with a date no calendar has until the first billing date), storage 8 date
and volume, a compact monthly profile (``8D04931E…``), ``046D`` date-time, software version ``0BFD0F``.
"""

from __future__ import annotations

from datetime import date, datetime

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

FLAGS = AlarmBits(current={0x000F: Alarm.ERROR})


def extract(frame: Frame) -> Fields:
    """Standard fields; error flags masked to the bits the meter uses."""
    return oms_fields(frame, FLAGS)


def _frame(meter_id: str, flags: int) -> bytes:
    from decoders import encoder as enc

    return enc.encode_oms(
        "SON", meter_id, 0x3C, 0x07, 0xAC, 0x00,
        [
            enc.volume(4.989, bcd=True),
            enc.billing_date(date(2026, 9, 1), storage=8),
            enc.volume(0.001, storage=8, bcd=True),
            enc.date_time(datetime(2026, 11, 28, 12, 10)),
            enc.error_flags(flags),
        ],
    )


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        Case(_frame("11111111", 0x0100).hex(), None,
             {"meter_id": "11111111", "total_m3": 4.989, "alarms": [],
              "history": ((8, date(2026, 9, 1), 0.001),)},
             note="built with our encoder; flag bit 0x0100 is outside the meter's error mask"),
        Case(_frame("11111112", 0x0002).hex(), None, {"meter_id": "11111112", "alarms": ["error"]},
             note="built with our encoder; flag bit 0x0002"),
    )


DRIVER = Driver(
    name="supercom587",
    matches=(Match("SON", frozenset({0x3C}), frozenset({0x06, 0x07})),),
    extract=extract,
    oms=(FLAGS, True),
    description="Sontex Supercom 587 water meter.",
    cases=_cases,
)
