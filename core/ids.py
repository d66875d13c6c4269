"""Meter identity: manufacturer code + 8-digit id, and the bigint key storage uses for them.

A text key costs a third of COPY throughput, so every table keys meters by
``meter_key = (manufacturer_code << 32) | id_as_u32``, where ``id_as_u32`` is the A-field's four id bytes
read little-endian (the id digits printed as hex). Non-BCD ids keep working because the hex is kept as is.
"""

from __future__ import annotations


def manufacturer_code(letters: str) -> int:
    """Three-letter FLAG code → 15-bit value (EN 13757-4 M-field)."""
    if len(letters) != 3 or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"manufacturer must be three upper-case letters, got {letters!r}")
    a, b, c = (ord(ch) - 64 for ch in letters)
    return (a << 10) | (b << 5) | c


def manufacturer_letters(code: int) -> str:
    """15/16-bit M-field value → three letters (bit 15 is masked; some meters set it)."""
    code &= 0x7FFF
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def meter_key(manufacturer: str, meter_id: str) -> int:
    """The bigint storage key of a meter: ``(M-code << 32) | int(meter_id, 16)``."""
    if len(meter_id) != 8:
        raise ValueError(f"meter id must be 8 hex/BCD digits, got {meter_id!r}")
    return (manufacturer_code(manufacturer) << 32) | int(meter_id, 16)


def split_meter_key(key: int) -> tuple[str, str]:
    """Inverse of :func:`meter_key`: ``(manufacturer, meter_id)``."""
    return manufacturer_letters(key >> 32), f"{key & 0xFFFFFFFF:08X}"
