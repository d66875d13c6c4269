"""Kaden / Ecomess water meters (KDN, VIP; Ecomess Picoflux AiR: ECM v0x05 type 0x07): standard mode-5 records,
leak in the TPL status byte (the Ecomess/Kaden wM-Bus OMS spec, as quoted in wmbusmeters ``picoflux.xmq``).

Status bits 0+1 = 3 means alarm; with it 0x20 = leak flow stayed < 100 l/h, 0x40 = leak flow > 100 l/h
(domain notes §3.1, verified on 67 live meters).
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame
from decoders.model import Record


def refine(_records: tuple[Record, ...], status: int | None, alarms: set[Alarm], _history: set[Alarm]) -> None:
    """The status-byte leak bits on top of the standard fields."""
    st = status or 0
    if st & 0x03 == 0x03 and st & 0x60:
        alarms.add(Alarm.LEAK)


def extract(frame: Frame) -> Fields:
    """Standard fields plus the status-byte leak bits."""
    f = oms_fields(frame)
    refine(frame.records, frame.status, f["alarms"], f["alarms_history"])
    return f


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "KDN", "19228217", 0x01, 0x07, 0xB5, 0x23, [enc.total_volume(81.0976)], mode=5, key=bytes(range(16))
    )
    _PICOFLUX = enc.encode_oms(
        "ECM", "56544919", 0x05, 0x07, 0xDF, 0x43, [enc.total_volume(4.492), enc.backward_volume(0.0)],
        mode=5, key=bytes(range(16)),
    )
    _PICOFLUX_OK = enc.encode_oms(
        "ECM", "57530510", 0x05, 0x07, 0xA9, 0x00, [enc.total_volume(10.617), enc.error_flags(0)],
        mode=5, key=bytes(range(16)),
    )
    return (
        Case(
            _CASE.hex(),
            bytes(range(16)).hex(),
            {"meter_id": "19228217", "total_m3": 81.098, "alarms": ["leak"]},
            note="built with our encoder",
        ),
        Case(
            _PICOFLUX.hex(),
            bytes(range(16)).hex(),
            {"meter_id": "56544919", "manufacturer": "ECM", "total_m3": 4.492, "alarms": ["leak"]},
            note="built with our encoder; Picoflux AiR, status 0x43 = alarm + leak flow > 100 l/h",
        ),
        Case(
            _PICOFLUX_OK.hex(),
            bytes(range(16)).hex(),
            {"meter_id": "57530510", "total_m3": 10.617, "alarms": []},
            note="built with our encoder; Picoflux AiR, no alarm",
        ),
    )


DRIVER = Driver(
    name="kadenwater",
    matches=(Match("KDN"), Match("VIP"), Match("ECM")),
    extract=extract,
    description="Kaden/Ecomess water meters (also Ecomess Picoflux AiR).",
    oms=(GENERIC_ERROR_FLAGS, True),
    refine=refine,
    cases=_cases,
)
