"""Maddalena (MAD v0x01/0x50): standard records ``0413``, ``046D``, ``04FD17``, ``4413``/``426C``.

The error-flag bits are not documented publicly, so any bit is reported as ``error``. Source: fact sheet §4.8."""

from __future__ import annotations

from datetime import date

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Standard OMS fields."""
    return oms_fields(frame)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "MAD",
        "24018699",
        0x01,
        0x07,
        0xF2,
        0x00,
        [
            enc.total_volume(0.167),
            enc.error_flags(0, nbytes=4),
            enc.billing_volume(0.1),
            enc.billing_date(date(2024, 12, 31)),
        ],
        cfg_flags=0x2000,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {"meter_id": "24018699", "total_m3": 0.167, "target_m3": 0.1, "target_date": "2024-12-31", "alarms": []},
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="maddalena",
    matches=(Match("MAD"),),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Maddalena water meters.",
    cases=_cases,
)
