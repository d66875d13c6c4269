"""EN 13757-3 date/time types G, F, I and J (fact sheet §3.6; libmbus ``mbus_data_tm_decode``).

Bit layout (bit 0 = LSB of the first byte)::

    G (2 bytes)  b0: yyy ddddd          b1: YYYY mmmm            year = 2000 + (YYYY yyy)
    F (4 bytes)  b0: IV r mmmmmm (min)  b1: SU hh hhhhh (hour)   b2/b3 = type G date
    I (6 bytes)  b0: - D ssssss (sec)   b1: IV - mmmmmm (min)    b2: hour   b3/b4 = type G date
    J (3 bytes)  seconds, minutes, hours

Meter clocks are wall-clock local time; the results are naive ``date``/``datetime`` values.
Invalid or all-ones fields give ``None``.
"""

from __future__ import annotations

from datetime import date, datetime


def _year(lo: int, hi: int) -> int:
    return 2000 + (((lo & 0xE0) >> 5) | ((hi & 0xF0) >> 1))


def type_g(b0: int, b1: int) -> date | None:
    """Decode a type G date from its two bytes, or None when invalid."""
    if b0 == 0xFF and b1 == 0xFF:
        return None
    day = b0 & 0x1F
    month = b1 & 0x0F
    try:
        return date(_year(b0, b1), month, day)
    except ValueError:
        return None


def type_f(data: bytes, pos: int = 0) -> datetime | None:
    """Decode a type F date-time (minute resolution) from 4 bytes at ``pos``, or None when invalid."""
    b0, b1, b2, b3 = data[pos], data[pos + 1], data[pos + 2], data[pos + 3]
    if b0 & 0x80:  # IV bit: time invalid
        return None
    try:
        return datetime(_year(b2, b3), b3 & 0x0F, b2 & 0x1F, b1 & 0x1F, b0 & 0x3F)
    except ValueError:
        return None


def type_i(data: bytes, pos: int = 0) -> datetime | None:
    """Decode a type I date-time (second resolution) from 6 bytes at ``pos``, or None when invalid."""
    b0, b1, b2, b3, b4 = data[pos], data[pos + 1], data[pos + 2], data[pos + 3], data[pos + 4]
    if b1 & 0x80:
        return None
    try:
        return datetime(_year(b3, b4), b4 & 0x0F, b3 & 0x1F, b2 & 0x1F, b1 & 0x3F, b0 & 0x3F)
    except ValueError:
        return None


def type_j(data: bytes, pos: int = 0) -> str | None:
    """Decode a type J time of day (3 bytes: s, min, h) as ``"HH:MM:SS"``, or None when invalid."""
    sec, minute, hour = data[pos] & 0x3F, data[pos + 1] & 0x3F, data[pos + 2] & 0x1F
    if sec > 59 or minute > 59 or hour > 23:
        return None
    return f"{hour:02d}:{minute:02d}:{sec:02d}"


def encode_g(value: date) -> bytes:
    """Encode a date as type G (years 2000–2127)."""
    y = value.year - 2000
    return bytes(((y & 7) << 5 | value.day, (y >> 3) << 4 | value.month))


def encode_f(value: datetime) -> bytes:
    """Encode a date-time as type F (minute resolution)."""
    g = encode_g(value.date())
    return bytes((value.minute & 0x3F, value.hour & 0x1F)) + g


def encode_i(value: datetime) -> bytes:
    """Encode a date-time as type I (second resolution, no DST/week bits)."""
    g = encode_g(value.date())
    return bytes((value.second & 0x3F, value.minute & 0x3F, value.hour & 0x1F)) + g + b"\x00"
