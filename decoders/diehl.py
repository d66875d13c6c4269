"""Diehl PRIOS / IZAR LFSR descrambling (fact sheet §4.3; wmbusmeters ``decodeDiehlLfsr``).

seed = BE32(key[0:4]) ^ BE32(key[4:8]) ^ BE32(frame[2:6]) ^ BE32(frame[6:10]) ^ BE32(frame[10:14]);
for each byte from frame offset 15 the 32-bit register is clocked 8 times (new bit = b1^b2^b11^b31,
shifted in at bit 0) and the byte is XORed with the register's low byte. ``frame`` is the CRC-free frame
starting at L, with the raw (unswapped) address bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

PRIOS_CHECK = 0x4B
PAYLOAD_OFFSET = 15


def _be32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def _clock8(reg: int) -> int:
    """The register after eight clocks, bit by bit (the definition; tables below are built from it)."""
    for _ in range(8):
        bit = ((reg >> 1) ^ (reg >> 2) ^ (reg >> 11) ^ (reg >> 31)) & 1
        reg = ((reg << 1) | bit) & 0xFFFFFFFF
    return reg


# The register is linear over GF(2) and eight clocks shift in one byte that depends only on the old
# register, so that byte is the XOR of four per-byte tables: one look-up per byte instead of eight clocks.
_BYTE_TABLES = tuple(tuple(_clock8(v << (8 * j)) & 0xFF for v in range(256)) for j in range(4))


def descramble(frame: bytes, key: bytes) -> bytes:
    """Descramble ``frame[15:]`` with an 8-byte PRIOS key."""
    reg = _be32(key, 0) ^ _be32(key, 4) ^ _be32(frame, 2) ^ _be32(frame, 6) ^ _be32(frame, 10)
    t0, t1, t2, t3 = _BYTE_TABLES
    stream = bytearray()
    for _ in range(len(frame) - PAYLOAD_OFFSET):
        b = t0[reg & 0xFF] ^ t1[(reg >> 8) & 0xFF] ^ t2[(reg >> 16) & 0xFF] ^ t3[reg >> 24]
        reg = ((reg << 8) | b) & 0xFFFFFFFF
        stream.append(b)
    n = len(stream)
    return (int.from_bytes(frame[PAYLOAD_OFFSET:], "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def decode_prios(frame: bytes, keys: Sequence[bytes]) -> bytes | None:
    """Try each 8-byte key; return the plaintext whose first byte is the 0x4B check, else None."""
    if len(frame) <= PAYLOAD_OFFSET:
        return None
    for key in keys:
        if len(key) < 8:
            continue
        plain = descramble(frame, key[:8])
        if plain[0] == PRIOS_CHECK:
            return plain
    return None
