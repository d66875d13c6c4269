"""The wM-Bus data link layer's CRC framing (EN 13757-4 frame formats A and B), shared by ``hardware`` (receivers
that keep the CRCs, simulators) and ``decoders`` (link layer, encoder), which may not import each other.

CRC-16/EN-13757: poly 0x3D65, init 0, not reflected, xorout 0xFFFF; ``crc16(b"123456789") == 0xC2B7``.
Fact sheet §1.2–1.4. Format A: a 10-byte first block (L C M A) then 16-byte blocks, each followed by a
big-endian CRC; L excludes the CRCs. Format B: block 1 (10 bytes) has no CRC, one CRC over bytes 0..125 at
offset 126, a second over the rest (only if L > 127); L includes the CRC bytes.

A 16-bit CRC register fed 16 bits at a time has no remainder to carry: the next register is a pure function of
``register XOR word``. So one lookup in a 65,536-entry table (built once at import, an immutable tuple)
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


CRC_TABLE = _make_table()  # one byte per step
CRC_TABLE16 = _make_table16(CRC_TABLE)  # one big-endian word per step
WORD_UNPACKERS = tuple(struct.Struct(f">{n}H") for n in range(130))  # frames are at most 255 bytes


def crc16(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-16/EN-13757 of ``data[start:end]``."""
    stop = len(data) if end is None else min(end, len(data))
    n = stop - start
    if n <= 0:
        return 0xFFFF
    half = n >> 1
    words = WORD_UNPACKERS[half] if half < len(WORD_UNPACKERS) else struct.Struct(f">{half}H")
    table = CRC_TABLE16
    crc = 0
    for w in words.unpack_from(data, start):
        crc = table[crc ^ w]
    if n & 1:
        crc = ((crc << 8) & 0xFFFF) ^ CRC_TABLE[(crc >> 8) ^ data[stop - 1]]
    return crc ^ 0xFFFF



def format_a_length(l_field: int) -> int:
    """On-air length (L byte included) of a format-A frame whose L-field is ``l_field``."""
    blocks_after_first = max(0, -(-(l_field - 9) // 16))
    return 1 + l_field + 2 * (1 + blocks_after_first)


def _a_blocks(total: int) -> list[tuple[int, int]]:
    """(start, end) of each CRC-protected data block of a format-A frame of ``total`` data bytes."""
    blocks = [(0, min(10, total))]
    start = 10
    while start < total:
        blocks.append((start, min(start + 16, total)))
        start += 16
    return blocks


def strip_format_a(frame: bytes) -> bytes | None:
    """Remove the block CRCs of a format-A frame; ``None`` if the length or any CRC is wrong."""
    if not frame or len(frame) != format_a_length(frame[0]):
        return None
    out = bytearray()
    pos = 0
    for start, end in _a_blocks(frame[0] + 1):
        size = end - start
        block = frame[pos : pos + size]
        crc = int.from_bytes(frame[pos + size : pos + size + 2], "big")
        if crc16(block) != crc:
            return None
        out += block
        pos += size + 2
    return bytes(out)


def add_format_a_crcs(frame: bytes) -> bytes:
    """Insert format-A block CRCs into a CRC-less frame starting with L."""
    out = bytearray()
    for start, end in _a_blocks(len(frame)):
        block = frame[start:end]
        out += block + crc16(block).to_bytes(2, "big")
    return bytes(out)


def strip_format_b(frame: bytes) -> bytes | None:
    """Remove the CRC(s) of a format-B frame and rewrite L to format-A meaning; ``None`` if invalid."""
    if len(frame) < 12 or len(frame) != frame[0] + 1 or frame[0] == 128:
        return None
    if len(frame) <= 128:
        body, crc = frame[:-2], int.from_bytes(frame[-2:], "big")
        if crc16(body) != crc:
            return None
        return bytes([frame[0] - 2]) + body[1:]
    first, crc1 = frame[:126], int.from_bytes(frame[126:128], "big")
    second, crc2 = frame[128:-2], int.from_bytes(frame[-2:], "big")
    if crc16(first) != crc1 or crc16(second) != crc2:
        return None
    return bytes([frame[0] - 4]) + first[1:] + second


def add_format_b_crcs(frame: bytes) -> bytes:
    """Turn a CRC-less frame (format-A L meaning) into a format-B frame with its CRC(s)."""
    if len(frame) + 2 <= 128:
        body = bytes([frame[0] + 2]) + frame[1:]
        return body + crc16(body).to_bytes(2, "big")
    if frame[0] + 4 > 255:
        raise ValueError("frame too long for format B")
    body = bytes([frame[0] + 4]) + frame[1:]
    first, second = body[:126], body[126:]
    return first + crc16(first).to_bytes(2, "big") + second + crc16(second).to_bytes(2, "big")


def strip_crcs(frame: bytes) -> bytes:
    """Return ``frame`` without DLL CRCs whichever way it came: format A, format B, or already stripped.

    A frame whose length equals L+1 and whose last two bytes are not a valid format-B CRC is taken as
    already stripped.
    """
    if frame and len(frame) == format_a_length(frame[0]):
        stripped = strip_format_a(frame)
        if stripped is not None:
            return stripped
    if frame and len(frame) == frame[0] + 1:
        stripped = strip_format_b(frame)
        if stripped is not None:
            return stripped
    return frame
