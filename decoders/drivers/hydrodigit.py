"""Bmeters Hydrodigit (BMT v0x13/0x15/0x17): ``0C13`` BCD litres, ``046D``, then a ``0F`` proprietary block.

The block (wmbusmeters ``hydrodigit.xmq`` grammar and its tests) starts with a content byte; each set bit adds
a part, in this order::

    0x01 battery   1 byte   low nibble → voltage (table below)
    0x02 fraud     1 + 3    fraud type (0x80 magnetic, 0x40 sensor fraud, 0x20 module removed), date
                            (byte 0 BCD year-2000, byte 1 low nibble month, byte 2 BCD day)
    0x80 leak      3 bytes  date of the last leak (BCD year-2000, month, day); zero = none
    0x04 backflow  4 bytes  LE litres
    0x10 monthly   12 × 3   LE values in 0.01 m³ at the end of January … December; ≥ 10,000,000 = not set

Fraud and leak are past events with a date: they go to ``alarms_history``. The month registers become
``history`` entries dated at the month's end (the year from the meter's date: months before the current one
are this year's). The TPL status byte is read with the BMETERS table (``status.BMETERS``).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.drivers.status import BMETERS
from decoders.frame import Frame
from decoders.model import HistoryEntry

# content bit → part name and length, in the order the parts follow each other
PARTS: tuple[tuple[int, str, int], ...] = (
    (0x01, "battery", 1),
    (0x02, "fraud", 4),
    (0x80, "leak", 3),
    (0x04, "backflow", 4),
    (0x10, "monthly", 36),
)
FRAUD_TYPES = AlarmBits(history={0x80: Alarm.MAGNETIC, 0x40: Alarm.TAMPER, 0x20: Alarm.REMOVED})
# battery nibble → volts (0, 14, 15: 3.7 V)
VOLTS = {1: 1.9, 2: 2.1, 3: 2.2, 4: 2.3, 5: 2.4, 6: 2.5, 7: 2.65, 8: 2.8, 9: 2.9, 10: 3.05, 11: 3.2, 12: 3.35,
         13: 3.5}
NOT_SET = 10_000_000


def parts(block: bytes) -> dict[str, bytes]:
    """Split the proprietary block (after ``0F``) into its parts by the content byte; short blocks stop early."""
    if not block:
        return {}
    content, pos, out = block[0], 1, {}
    for bit, name, size in PARTS:
        if content & bit:
            if pos + size > len(block):
                break
            out[name] = block[pos : pos + size]
            pos += size
    return out


def _bcd(b: int) -> int:
    return (b >> 4) * 10 + (b & 0x0F)


def _leak_date(raw: bytes) -> date | None:
    try:
        return date(2000 + _bcd(raw[0]), _bcd(raw[1]), _bcd(raw[2])) if any(raw) else None
    except ValueError:
        return None


def month_registers(raw: bytes, now: datetime | None) -> tuple[HistoryEntry, ...]:
    """The 12 month-end values as history entries (months back from ``now``), newest first."""
    if now is None:
        return ()
    out = []
    for back in range(1, 13):
        month = (now.month - back - 1) % 12 + 1
        year = now.year if month < now.month else now.year - 1
        value = int.from_bytes(raw[(month - 1) * 3 : month * 3], "little")
        if value < NOT_SET:
            out.append(HistoryEntry(back, date(year, month, calendar.monthrange(year, month)[1]), value / 100))
    return tuple(out)


def extract(frame: Frame) -> Fields:
    """Standard fields (BMETERS status table), battery, backflow, fraud/leak history and month registers."""
    f = oms_fields(frame, GENERIC_ERROR_FLAGS, use_status=BMETERS)
    p = parts(frame.manufacturer_data or b"")
    if "battery" in p:
        f["battery_v"] = VOLTS.get(p["battery"][0] & 0x0F, 3.7)
    if "fraud" in p:
        FRAUD_TYPES.apply(p["fraud"][0], f["alarms"], f["alarms_history"])
    if "leak" in p and _leak_date(p["leak"]) is not None:
        f["alarms_history"].add(Alarm.LEAK)
    if "backflow" in p:
        f["total_backward_m3"] = int.from_bytes(p["backflow"], "little") / 1000
    if "monthly" in p:
        f["history"] = month_registers(p["monthly"], f["meter_datetime"])
    return f


def _months(values: list[float | None]) -> bytes:
    return b"".join((0xFFFFFF if v is None else round(v * 100)).to_bytes(3, "little") for v in values)


_KEY = bytes(16)

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _PLAIN = enc.encode_oms(
        "BMT", "86868686", 0x13, 0x07, 0xF0, 0x00,
        [enc.volume(3.866, bcd=True), enc.date_time(datetime(2025, 10, 30, 8, 39)), b"\x0f\x00\x00"],
        mode=5, key=_KEY,
    )
    _FULL = enc.encode_oms(
        "BMT", "87654322", 0x13, 0x07, 0x7F, 0x00,
        [
            enc.volume(40.263, bcd=True),
            enc.date_time(datetime(2026, 6, 18, 12, 36)),
            b"\x0f\x97" + b"\x0a" + b"\x80\x26\x03\x05" + bytes.fromhex("260425") + (7).to_bytes(4, "little")
            + _months([14.44, 19.02, 24.37, 30.18, 36.58, None, None, 0.02, 0.02, 0.37, 4.35, 9.17]),
        ],
    )
    _ALARM = enc.encode_oms(
        "BMT", "03245501", 0x17, 0x06, 0x48, 0x48, [enc.volume(6.735, bcd=True), b"\x0f\x00"], mode=5, key=_KEY,
    )
    return (
        Case(
            _PLAIN.hex(),
            _KEY.hex(),
            {"meter_id": "86868686", "total_m3": 3.866, "meter_datetime": "2025-10-30T08:39:00", "alarms": [],
             "history": ()},
            note="built with our encoder; empty content byte",
        ),
        Case(
            _FULL.hex(),
            None,
            {
                "meter_id": "87654322",
                "total_m3": 40.263,
                "battery_v": 3.05,
                "total_backward_m3": 0.007,
                "alarms": [],
                "alarms_history": ["leak", "magnetic"],
                "target_m3": None,
                "history": (
                    HistoryEntry(1, date(2026, 5, 31), 36.58),
                    HistoryEntry(2, date(2026, 4, 30), 30.18),
                    HistoryEntry(3, date(2026, 3, 31), 24.37),
                    HistoryEntry(4, date(2026, 2, 28), 19.02),
                    HistoryEntry(5, date(2026, 1, 31), 14.44),
                    HistoryEntry(6, date(2025, 12, 31), 9.17),
                    HistoryEntry(7, date(2025, 11, 30), 4.35),
                    HistoryEntry(8, date(2025, 10, 31), 0.37),
                    HistoryEntry(9, date(2025, 9, 30), 0.02),
                    HistoryEntry(10, date(2025, 8, 31), 0.02),
                ),
            },
            note="built with our encoder; every part, two months not set (before installation), leak 2026-04-25",
        ),
        Case(
            _ALARM.hex(),
            _KEY.hex(),
            {"meter_id": "03245501", "total_m3": 6.735, "alarms": ["removed", "tamper"]},
            note="built with our encoder; TPL status 0x48 = module removed + tamper (BMETERS table)",
        ),
    )


DRIVER = Driver(
    name="hydrodigit",
    matches=(Match("BMT", frozenset({0x13, 0x15, 0x17}), frozenset({0x06, 0x07})),),
    extract=extract,
    description="Bmeters Hydrodigit water meter (proprietary block: battery, fraud, leak, backflow, months).",
    cases=_cases,
)
