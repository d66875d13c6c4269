"""Link-layer CRC handling for receivers that keep the CRCs (EN 13757-4 frame formats A and B).

The framing itself lives in :mod:`core.dll` (the decoders' link layer and encoder use the same code); this
module is the receivers' name for it, :func:`strip_crcs` (a frame whichever way it came) included. It never
interprets what is inside a frame (that is ``decoders``).
"""

from __future__ import annotations

from core.dll import (
    add_format_a_crcs,
    add_format_b_crcs,
    crc16,
    format_a_length,
    strip_crcs,
    strip_format_a,
    strip_format_b,
)

__all__ = ["add_format_a_crcs", "add_format_b_crcs", "crc16", "format_a_length", "strip_crcs", "strip_format_a",
           "strip_format_b"]
