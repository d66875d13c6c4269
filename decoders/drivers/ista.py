"""Ista radio net 3 water meters in OMS mode (IST v0x31/0x33 type 0x07): ELL + AFL + mode 7, standard records.

Records (wmbusmeters ``istawater.xmq``): ``0C13`` total, storage 2 = volume and date at the end of the previous
month (``82016C``/``8C0113``) — the lowest stored volume, so the standard target rule gives it — and a date in
storage 31 with no volume. The TPL status byte: standard bits; error flags: any bit → error.
"""

from __future__ import annotations

from datetime import date

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Standard OMS fields."""
    return oms_fields(frame)


_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "IST", "50104916", 0x33, 0x07, 0x8F, 0x00,
        [
            enc.volume(6.691, bcd=True),
            enc.billing_date(date(2026, 1, 31), storage=2),
            enc.volume(5.421, storage=2, bcd=True),
            enc.billing_date(date(2026, 2, 9), storage=31),
        ],
        mode=7, key=_KEY,
    )
    return (
        Case(
            _CASE.hex(),
            _KEY.hex(),
            {"meter_id": "50104916", "total_m3": 6.691, "target_m3": 5.421, "target_date": "2026-01-31",
             "history": ((2, date(2026, 1, 31), 5.421),)},
            note="built with our encoder (ELL + AFL + mode 7)",
        ),
    )


DRIVER = Driver(
    name="istawater",
    matches=(Match("IST", frozenset({0x31, 0x33}), frozenset({0x07, 0x06, 0x16})),),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Ista radio net 3 water meter (OMS mode 7).",
    cases=_cases,
)
