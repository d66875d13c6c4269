"""Bmeters IWM-TX5 (BMT v0x18): ELL-I + short TPL, standard records.

Source: fact sheet §4.6, wmbusmeters ``iwmtx5.xmq``."""

from __future__ import annotations

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.drivers.status import BMETERS
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Standard OMS fields, BMETERS status table."""
    return oms_fields(frame, GENERIC_ERROR_FLAGS, use_status=BMETERS)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "BMT",
        "23329344",
        0x18,
        0x06,
        0x5B,
        0x00,
        [enc.volume(2.007, bcd=True), enc.error_flags(0)],
        ell="I",
        mode=5,
        key=bytes(16),
    )
    _TAMPER = enc.encode_oms(
        "BMT", "24360570", 0x18, 0x06, 0x7D, 0x40, [enc.volume(29.458, bcd=True)], ell="I", mode=5, key=bytes(16)
    )
    _REMOVED = enc.encode_oms(
        "BMT", "22917370", 0x18, 0x07, 0x03, 0x08, [enc.volume(0.025, bcd=True)], ell="I", mode=5, key=bytes(16)
    )
    return (
        Case(
            _CASE.hex(),
            "00" * 16,
            {"meter_id": "23329344", "total_m3": 2.007, "alarms": []},
            note="built with our encoder",
        ),
        Case(
            _TAMPER.hex(),
            "00" * 16,
            {"meter_id": "24360570", "total_m3": 29.458, "alarms": ["tamper"]},
            note="built with our encoder; status 0x40 = tamper",
        ),
        Case(
            _REMOVED.hex(),
            "00" * 16,
            {"meter_id": "22917370", "total_m3": 0.025, "alarms": ["removed"]},
            note="built with our encoder; status 0x08 = module removed per BMeters, not a permanent error",
        ),
    )


DRIVER = Driver(
    name="iwmtx5",
    matches=(Match("BMT", frozenset({0x18}), None),),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, BMETERS),
    description="Bmeters IWM-TX5 water meter.",
    cases=_cases,
)
