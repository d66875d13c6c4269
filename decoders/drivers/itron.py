"""Itron Cyble / Intelis (ITW, ITR): standard records; error flags ``03FD971C`` → error.

Source: fact sheet §4.5, wmbusmeters ``itron.xmq``."""

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
        "ITW",
        "23362098",
        0x00,
        0x16,
        0xF6,
        0x00,
        [
            enc.total_volume(4.142),
            enc.billing_volume(3.5),
            enc.billing_date(date(2024, 12, 31)),
            enc.backward_volume(0.0),
        ],
        cfg_flags=0xA000,
    )
    _ERROR_VALUE = enc.encode_oms(
        "ITW", "23362099", 0x00, 0x16, 0xF6, 0x00,
        [
            enc.total_volume(4.142),
            enc.record(0x74, 0x13, bytes.fromhex("FEFEFEFE")),
            enc.billing_date(date(2000, 1, 31)),
        ],
        cfg_flags=0xA000,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {"meter_id": "23362098", "total_m3": 4.142, "target_m3": 3.5, "total_backward_m3": 0.0},
            note="built with our encoder",
        ),
        Case(
            _ERROR_VALUE.hex(),
            None,
            {"meter_id": "23362099", "total_m3": 4.142, "target_m3": None, "history": ()},
            note="built with our encoder; storage 1 volume sent as 'value during error' (DIF 0x74) is no register",
        ),
    )


DRIVER = Driver(
    name="itron",
    matches=(Match("ITW"), Match("ITR")),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Itron Cyble/Intelis water meters.",
    cases=_cases,
)
