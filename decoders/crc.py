"""CRC-16/EN-13757 (poly 0x3D65, init 0, no reflection, xorout 0xFFFF), table driven.

Used for link-layer block CRCs (fact sheet §1.4), the ELL payload CRC (§2.7) and compact-frame
signatures (§2.9). ``crc16(b"123456789") == 0xC2B7``.
"""

from __future__ import annotations

_POLY = 0x3D65


def _make_table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        rows.append(crc)
    return tuple(rows)


_TABLE = _make_table()


def crc16(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-16/EN-13757 of ``data[start:end]``."""
    table = _TABLE
    crc = 0
    stop = len(data) if end is None else end
    for i in range(start, stop):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ data[i]]
    return crc ^ 0xFFFF
