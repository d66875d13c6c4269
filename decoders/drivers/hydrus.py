"""Diehl OMS water meters (Hydrus, IZAR v2 OMS, Altair …: DME, HYD, SAP) — standard records.

Diehl sets CFG bit 12 on some 0x7A frames ("REAL_DATA" in wmbusmeters' ``detectDiehlFrameInterpretation``);
those carry the address swapped (``version, type, ID0..ID3``) like PRIOS frames. The public Diehl default
OMS key is tried by the security layer when no key is given (fact sheet §4.3).
"""

from __future__ import annotations

from decoders.address import meter_id_text
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame
from decoders.keys import DIEHL_DEFAULT_OMS_KEY

REAL_DATA_BIT = 0x1000


def extract(frame: Frame) -> Fields:
    """Standard fields; swapped address for REAL_DATA frames."""
    f = oms_fields(frame, AlarmBits())
    tpl = frame.tpl
    if tpl is not None and tpl.header == "short" and tpl.cfg & REAL_DATA_BIT and frame.manufacturer != "SAP":
        a = frame.data[4:10]
        f.update({"meter_id": meter_id_text(a[2:6]), "version": a[0], "device_type": a[1], "security_mode": 0})
    return f


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "DME",
        "64646464",
        0x70,
        0x07,
        0x2A,
        0x00,
        [enc.volume(1.174, bcd=True), enc.battery_days(4999)],
        mode=5,
        key=DIEHL_DEFAULT_OMS_KEY,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {"meter_id": "64646464", "total_m3": 1.174, "battery_days": 4999},
            note="built with our encoder, default Diehl key",
        ),
    )


DRIVER = Driver(
    name="hydrus",
    matches=(Match("DME"), Match("HYD"), Match("SAP")),
    extract=extract,
    mfct_security=True,
    description="Diehl OMS water meters (default Diehl key tried when none is configured).",
    cases=_cases,
)
