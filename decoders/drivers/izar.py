"""Diehl IZAR / PRIOS ("izar", "izarv2"): LFSR-scrambled proprietary frames, CI 0xA0–0xA7, 0xB0–0xB3.

Address: DME/HYD send ``version, type, ID0..ID3`` in the A-field (swapped); SAP keeps the normal order
with type forced to water. Plaintext after the 0x4B check: total litres (4 LE), last-month litres (4 LE),
its date (type-G-like, 2 bytes). Plain header bytes: frame[11] bit7 general alarm; frame[12] bit7 leak now,
bit6 leak before, bit5 blocked, bits4–0 battery half-years; frame[13] bit7 back flow … bit0 mechanical fraud
before (fact sheet §4.3; wmbusmeters ``driver_izar.cc``). Default keys are the public PRIOS keys.
"""

from __future__ import annotations

from datetime import date

from core.types import Alarm
from decoders import diehl
from decoders.address import meter_id_text
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.errors import KeyMissingError, WrongKeyError
from decoders.frame import Frame
from decoders.keys import PRIOS_DEFAULT_KEYS
from decoders.model import HistoryEntry

BYTE12 = AlarmBits(current={0x80: Alarm.LEAK, 0x20: Alarm.BLOCKED}, history={0x40: Alarm.LEAK})
BYTE13 = AlarmBits(
    current={0x80: Alarm.REVERSE_FLOW, 0x08: Alarm.TAMPER, 0x02: Alarm.TAMPER},
    history={0x04: Alarm.TAMPER, 0x01: Alarm.TAMPER},
)
PRIOS_CIS = frozenset({*range(0xA0, 0xA8), *range(0xB0, 0xB4)})


def _date(b9: int, b10: int) -> date | None:
    year = ((b10 & 0xF0) >> 1) | ((b9 & 0xE0) >> 5)
    try:
        return date(year + (1900 if year > 80 else 2000), b10 & 0x0F, b9 & 0x1F)
    except ValueError:
        return None


def _identity(frame: Frame) -> Fields:
    a = frame.data[4:10]
    if frame.manufacturer == "SAP":
        return {"meter_id": meter_id_text(a[:4]), "device_type": 0x07}
    return {"meter_id": meter_id_text(a[2:6]), "version": a[0], "device_type": a[1]}


def extract(frame: Frame) -> Fields:
    """Descramble and read volumes, battery and alarms."""
    keys = (*frame.keys, *PRIOS_DEFAULT_KEYS)
    if len(frame.data) < 20:
        raise KeyMissingError("izar: PRIOS payload too short", layer="driver")
    plain = diehl.decode_prios(frame.data, keys)
    if plain is None:
        raise WrongKeyError("izar: PRIOS descrambling failed with every key (check byte 0x4B)", layer="security")
    d = frame.data
    alarms: set[Alarm] = set()
    history: set[Alarm] = set()
    BYTE12.apply(d[12], alarms, history)
    BYTE13.apply(d[13], alarms, history)
    fields: Fields = {
        "total_m3": int.from_bytes(plain[1:5], "little") / 1000,
        "battery_days": round((d[12] & 0x1F) / 2 * 365),
        "alarms": alarms,
        "alarms_history": history,
        "payload": plain,
        "records": (),
    }
    if len(plain) > 8:
        fields["target_m3"] = int.from_bytes(plain[5:9], "little") / 1000
    if len(plain) > 10:
        fields["target_date"] = _date(plain[9], plain[10])
    if "target_m3" in fields:  # the last month end is the one stored value PRIOS sends
        fields["history"] = (HistoryEntry(1, fields.get("target_date"), fields["target_m3"]),)
    return fields | _identity(frame)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Fact sheet V13 (wmbusmeters driver_izar.cc test).
        Case(
            "2944A511780729662366A20118001378D3B3DB8CEDD77731F25832AAF3DA8CADF9774EA673172E8C61F2",
            None,
            {
                "meter_id": "66236629",
                "total_m3": 16.76,
                "target_m3": 11.84,
                "target_date": "2019-11-30",
                "alarms": [],
                "history": ((1, date(2019, 11, 30), 11.84),),
            },
        ),
    )


DRIVER = Driver(
    name="izar",
    matches=(Match("HYD"), Match("DME"), Match("SAP")),
    extract=extract,
    cis=PRIOS_CIS,
    description="Diehl IZAR/PRIOS radio (LFSR-scrambled), public default keys.",
    cases=_cases,
)
