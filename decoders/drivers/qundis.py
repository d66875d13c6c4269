"""Qundis water meters ("qwater"/"qwaterv2", QDS): standard OMS records, or a walk-by block ``0DFF5F``.

The walk-by frame (CI 0x78) carries one LVAR manufacturer record of 53 bytes; at offset 12 the total
(BCD8, litres), then (date G, BCD8 volume) pairs at 16/18 and 22/24 — the second pair is the billing-date
value. Layout inferred from wmbusmeters ``qwater``/``qheat`` walk-by extraction (fixed offsets).
"""

from __future__ import annotations

from datetime import date

from decoders import datetypes
from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame

WALKBY_KEY = "0dff5f"


def _bcd_litres(raw: bytes) -> float | None:
    text = raw[::-1].hex()
    return int(text) / 1000 if text.isdigit() else None


def _walkby(block: bytes) -> Fields:
    out: Fields = {}
    if len(block) >= 16:
        out["total_m3"] = _bcd_litres(block[12:16])
    if len(block) >= 28:
        out["target_m3"] = _bcd_litres(block[24:28])
        out["target_date"] = datetypes.type_g(block[22], block[23])
    return out


def extract(frame: Frame) -> Fields:
    """Standard fields, overridden by the walk-by block when present."""
    f = oms_fields(frame)
    for r in frame.records:
        if r.key == WALKBY_KEY and isinstance(r.value, str):
            f.update(_walkby(r.value.encode("latin-1")[::-1]))
    return f


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "QDS",
        "13176890",
        0x16,
        0x07,
        0x0B,
        0x00,
        [enc.volume(128.635, bcd=True), enc.volume(128.507, storage=1, bcd=True), enc.billing_date(date(2024, 12, 31))],
        cfg_flags=0x2000,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {"meter_id": "13176890", "total_m3": 128.635, "target_m3": 128.507, "target_date": "2024-12-31"},
            note="built with our encoder",
        ),
    )


DRIVER = Driver(
    name="qwater",
    matches=(Match("QDS", None, frozenset({0x06, 0x07, 0x16, 0x15})),),
    extract=extract,
    description="Qundis Q water meters (standard records or the 0DFF5F walk-by block).",
    cases=_cases,
)
