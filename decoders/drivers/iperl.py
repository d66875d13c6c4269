"""Sensus iPERL (SEN v0x68/0x7C): standard records ``0413`` total, ``023B`` flow; plain or mode 5.

Source: fact sheet §4.4, wmbusmeters ``iperl.xmq``."""

from __future__ import annotations

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
        "SEN",
        "12345699",
        0x68,
        0x07,
        0x36,
        0x00,
        [enc.total_volume(7.704), enc.flow(0.25)],
        mode=5,
        key=bytes(range(16)),
    )
    return (
        Case(
            _CASE.hex(),
            bytes(range(16)).hex(),
            {"meter_id": "12345699", "total_m3": 7.704, "flow_m3h": 0.25},
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="iperl",
    matches=(Match("SEN", frozenset({0x68, 0x7C}), frozenset({0x06, 0x07})),),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Sensus iPERL water meter.",
    cases=_cases,
)
