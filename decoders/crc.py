"""CRC checks of the decoders' link layer: format-A block spans precomputed per frame length, checked with the
word-table CRC-16/EN-13757 of :mod:`core.dll` (also used for the ELL payload CRC, §2.7, and compact-frame
signatures, §2.9).
"""

from __future__ import annotations

import struct

from core.dll import CRC_TABLE, CRC_TABLE16, WORD_UNPACKERS, crc16

__all__ = ["Checks", "block_ok", "checks_ok", "crc16", "span_checks"]

# Feeding a register its own final CRC (register XOR 0xFFFF, as a big-endian word) leaves this constant.
_RESIDUE = CRC_TABLE16[0xFFFF]


Checks = tuple[tuple[tuple[struct.Struct, int], ...], tuple[tuple[struct.Struct, int, int], ...]]


def _words(n_words: int) -> struct.Struct:
    return WORD_UNPACKERS[n_words] if n_words < len(WORD_UNPACKERS) else struct.Struct(f">{n_words}H")


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
    """True when every block span ``checks`` was made from (see :func:`span_checks`) is followed by its CRC."""
    table = CRC_TABLE16
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
        crc = ((crc << 8) & 0xFFFF) ^ CRC_TABLE[(crc >> 8) ^ data[last]]
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
    table = CRC_TABLE16
    crc = 0
    for w in WORD_UNPACKERS[n >> 1].unpack_from(data, start):
        crc = table[crc ^ w]
    return crc == _RESIDUE
