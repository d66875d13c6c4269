"""Bmeters RFM-TX1 (BMT v0x05 type 7, TPL CFG 0x1006): proprietary XOR-obfuscated total.

Frame offsets (wmbusmeters ``rfmtx1.xmq``): key byte at 11 (the ACC), four data bytes at 17–20, BCD
date-time ``ss mm hh DD MM YY`` at 28–33. Data byte i = raw_i ^ key ^ T_i[key & 15]; the four bytes are BCD
digits of the total in litres (least significant first).
"""

from __future__ import annotations

from datetime import datetime

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.errors import DriverError
from decoders.frame import Frame

# Row-indexed XOR tables (wmbusmeters rfmtx1.xmq t0..t3).
TABLES = (
    (122, 112, 185, 121, 7, 50, 156, 180, 10, 240, 22, 12, 74, 119, 189, 57),
    (16, 19, 11, 7, 154, 161, 126, 196, 206, 5, 152, 201, 72, 46, 120, 111),
    (26, 34, 142, 74, 203, 57, 96, 128, 25, 165, 17, 125, 228, 138, 87, 40),
    (10, 19, 153, 22, 105, 14, 153, 163, 3, 134, 94, 162, 31, 232, 140, 5),
)


def _bcd(b: int) -> int:
    return (b >> 4) * 10 + (b & 0x0F)


def _when(d: bytes) -> datetime | None:
    try:
        return datetime(2000 + _bcd(d[33]), _bcd(d[32]), _bcd(d[31]), _bcd(d[30]), _bcd(d[29]), _bcd(d[28]))
    except ValueError:
        return None


def extract(frame: Frame) -> Fields:
    """De-obfuscate the total and read the BCD meter time."""
    d = frame.data
    if len(d) < 34:
        raise DriverError("rfmtx1: frame too short for the proprietary layout")
    key = d[11]
    row = key & 0x0F
    litres = 0
    for i in range(4):
        litres += _bcd(d[17 + i] ^ key ^ TABLES[i][row]) * 100**i
    return {"total_m3": litres / 1000, "meter_datetime": _when(d), "records": ()}


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Our frame: key byte 0x05 (row 5), total 00 01 23 45 -> 12.345 m³, time 2024-03-31 10:04:59.
        Case(
            "2144B40978563412"
            "05077A"
            "05000610"
            "1115"
            + bytes((0x45 ^ 5 ^ 50, 0x23 ^ 5 ^ 161, 0x01 ^ 5 ^ 57, 0x00 ^ 5 ^ 14)).hex()
            + "00000000000000"
            + "590410310324",
            None,
            {"meter_id": "12345678", "total_m3": 12.345, "meter_datetime": "2024-03-31T10:04:59"},
        ),
    )


DRIVER = Driver(
    name="rfmtx1",
    matches=(Match("BMT", frozenset({0x05}), frozenset({0x07})),),
    extract=extract,
    mfct_security=True,
    description="Bmeters RFM-TX1 radio module (proprietary obfuscation).",
    cases=_cases,
)
