"""Bmeters Hydrodigit (BMT v0x13/0x15/0x17): ``0C13`` BCD litres, ``046D``, then a ``0F`` proprietary block.

Source: fact sheet §4.6, wmbusmeters ``hydrodigit.xmq``."""

from __future__ import annotations

from datetime import datetime

from decoders import encoder as enc
from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Standard OMS fields."""
    return oms_fields(frame)


_CASE = enc.encode_oms(
    "BMT",
    "86868686",
    0x13,
    0x07,
    0xF0,
    0x00,
    [enc.volume(3.866, bcd=True), enc.date_time(datetime(2025, 10, 30, 8, 39)), b"\x0f\x00\x00"],
    mode=5,
    key=bytes(16),
)

DRIVER = Driver(
    name="hydrodigit",
    matches=(Match("BMT", frozenset({0x13, 0x15, 0x17}), frozenset({0x06, 0x07})),),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Bmeters Hydrodigit water meter.",
    cases=(
        Case(
            _CASE.hex(),
            "00" * 16,
            {"meter_id": "86868686", "total_m3": 3.866, "meter_datetime": "2025-10-30T08:39:00"},
            note="built with our encoder",
        ),
    ),
)
