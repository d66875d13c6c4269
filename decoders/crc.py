"""CRC-16/EN-13757 (poly 0x3D65, init 0, no reflection, xorout 0xFFFF), table driven, two bytes per step.

Used for link-layer block CRCs (fact sheet §1.4), the ELL payload CRC (§2.7) and compact-frame
signatures (§2.9). ``crc16(b"123456789") == 0xC2B7``.

A 16-bit CRC register fed 16 bits at a time has no remainder to carry: the next register is a pure function
of ``register XOR word``. So one lookup in a 65,536-entry table (built once at import, an immutable tuple)
replaces two byte steps, and ``struct`` splits the data into big-endian words in C.
"""

from __future__ import annotations

import struct

_POLY = 0x3D65


def _make_table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        rows.append(crc)
    return tuple(rows)


def _make_table16(t8: tuple[int, ...]) -> tuple[int, ...]:
    # Register after shifting in bytes hi, lo from zero: first step gives t8[hi]; the second xors its low
    # byte into the register's high byte and looks up (its high byte XOR lo).
    return tuple(((t8[x >> 8] & 0xFF) << 8) ^ t8[(x & 0xFF) ^ (t8[x >> 8] >> 8)] for x in range(0x10000))


_TABLE = _make_table()
_TABLE16 = _make_table16(_TABLE)
_WORDS = tuple(struct.Struct(f">{n}H") for n in range(130))  # frames are at most 255 bytes


def crc16(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-16/EN-13757 of ``data[start:end]``."""
    stop = len(data) if end is None else min(end, len(data))
    n = stop - start
    if n <= 0:
        return 0xFFFF
    half = n >> 1
    words = _WORDS[half] if half < len(_WORDS) else struct.Struct(f">{half}H")
    table = _TABLE16
    crc = 0
    for w in words.unpack_from(data, start):
        crc = table[crc ^ w]
    if n & 1:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ data[stop - 1]]
    return crc ^ 0xFFFF


# Feeding a register its own final CRC (register XOR 0xFFFF, as a big-endian word) leaves this constant.
_RESIDUE = _TABLE16[0xFFFF]


def blocks_ok(data: bytes | bytearray | memoryview, spans: tuple[tuple[int, int], ...]) -> bool:
    """True when every ``(start, end)`` span passes :func:`block_ok` (one call for a whole frame)."""
    table = _TABLE16
    words = _WORDS
    for start, end in spans:
        n = end - start
        if n & 1 or n < 2:
            if not block_ok(data, start, end):
                return False
            continue
        crc = 0
        for w in words[n >> 1].unpack_from(data, start):
            crc = table[crc ^ w]
        if crc != _RESIDUE:
            return False
    return True


Checks = tuple[tuple[tuple[struct.Struct, int], ...], tuple[tuple[struct.Struct, int, int], ...]]


def _words(n_words: int) -> struct.Struct:
    return _WORDS[n_words] if n_words < len(_WORDS) else struct.Struct(f">{n_words}H")


def span_checks(spans: tuple[tuple[int, int], ...]) -> Checks:
    """Precompute :func:`checks_ok` for fixed block spans of at least 2 bytes: (word unpacker, start) per
    even-length block; for an odd one (the last block of some frames) the unpacker of its even-length head and
    the offset of its last data byte."""
    even = []
    odd = []
    for start, end in spans:
        n = end - start
        if n < 2:
            raise ValueError(f"CRC block {start}..{end} is shorter than its CRC")
        if n & 1:
            odd.append((_words((n - 3) >> 1), start, end - 3))
        else:
            even.append((_words(n >> 1), start))
    return tuple(even), tuple(odd)


def checks_ok(data: bytes | bytearray | memoryview, checks: Checks) -> bool:
    """:func:`blocks_ok` for the spans ``checks`` was made from (see :func:`span_checks`)."""
    table = _TABLE16
    for words, start in checks[0]:
        crc = 0
        for w in words.unpack_from(data, start):
            crc = table[crc ^ w]
        if crc != _RESIDUE:
            return False
    for words, start, last in checks[1]:  # head by words, the odd last data byte by bytes, then compare
        crc = 0
        for w in words.unpack_from(data, start):
            crc = table[crc ^ w]
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ data[last]]
        if crc ^ 0xFFFF != (data[last + 1] << 8 | data[last + 2]):
            return False
    return True


def block_ok(data: bytes | bytearray | memoryview, start: int, end: int) -> bool:
    """True when ``data[start:end]`` is a block followed by its own CRC (two bytes, big-endian).

    For an even-length block the check is one pass over words, CRC included: the register must end at the
    fixed residue. Odd blocks (only ever the last block of a frame) compute the CRC and compare.
    """
    n = end - start
    if n < 2:
        return False
    if n & 1:
        return crc16(data, start, end - 2) == (data[end - 2] << 8 | data[end - 1])
    table = _TABLE16
    crc = 0
    for w in _WORDS[n >> 1].unpack_from(data, start):
        crc = table[crc ^ w]
    return crc == _RESIDUE
