"""CRC checks of the decoders' link layer: format-A block spans precomputed per frame length, checked with the
CRC-16/EN-13757 of :mod:`core.dll` (also used for the ELL payload CRC, §2.7, and compact-frame signatures, §2.9).

A block followed by its own CRC (big-endian) always has the CRC :data:`core.dll.CRC_RESIDUE`, so each check is
one native CRC call over block and CRC, and one comparison.
"""

from __future__ import annotations

from core.dll import CRC_RESIDUE, crc16, crc16_whole

__all__ = ["Checks", "block_ok", "checks_ok", "crc16", "span_checks"]


Checks = tuple[tuple[int, int], ...]


def span_checks(spans: tuple[tuple[int, int], ...]) -> Checks:
    """Precompute :func:`checks_ok` for fixed block spans (start, end of the block's CRC), each at least 2
    bytes long."""
    for start, end in spans:
        if end - start < 2:
            raise ValueError(f"CRC block {start}..{end} is shorter than its CRC")
    return tuple(spans)


def checks_ok(data: bytes | bytearray | memoryview, checks: Checks) -> bool:
    """True when every block span ``checks`` was made from (see :func:`span_checks`) is followed by its CRC."""
    for start, end in checks:  # noqa: SIM110 - all() over a generator costs twice as much here
        if crc16_whole(data[start:end]) != CRC_RESIDUE:
            return False
    return True


def block_ok(data: bytes | bytearray | memoryview, start: int, end: int) -> bool:
    """True when ``data[start:end]`` is a block followed by its own CRC (two bytes, big-endian)."""
    return end - start >= 2 and crc16_whole(data[start:end]) == CRC_RESIDUE
