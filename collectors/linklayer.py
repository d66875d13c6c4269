"""Meter identity from the link-layer header alone (M-field + A-field), for when full decoding is not possible.

Layout after L (fact sheet §1.6–1.7)::

    C | M (2, LE; bit 15 masked) | ID (4, BCD LSB first) | version | device type

The TPL long header may name a different meter (radio converters); ``decoders`` knows that, this does not.
"""

from __future__ import annotations

from construct import Bytes, Int8ub, Int16ul, Struct

LINK_HEADER = Struct(
    "l_field" / Int8ub,
    "c_field" / Int8ub,
    "m_field" / Int16ul,
    "id_bcd" / Bytes(4),
    "version" / Int8ub,
    "device_type" / Int8ub,
)


def manufacturer_code(m_field: int) -> str:
    """Three-letter FLAG code of an M-field value."""
    m = m_field & 0x7FFF
    return "".join(chr(((m >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def link_identity(frame: bytes) -> tuple[str, str] | None:
    """``(manufacturer, meter_id)`` from the DLL header of ``frame`` (L first), or ``None`` if too short."""
    if len(frame) < 10:
        return None
    header = LINK_HEADER.parse(frame[:10])
    return manufacturer_code(header.m_field), header.id_bcd[::-1].hex().upper()
