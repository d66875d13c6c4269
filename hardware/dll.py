"""Link-layer CRC handling for receivers that keep the CRCs (EN 13757-4 frame formats A and B).

The framing itself lives in :mod:`core.dll` (the decoders' link layer and encoder use the same code); this
module adds what receivers need on top: taking a frame whichever way it came. It never interprets what is
inside a frame (that is ``decoders``).
"""

from __future__ import annotations

from core.dll import (
    add_format_a_crcs,
    add_format_b_crcs,
    crc16,
    format_a_length,
    strip_format_a,
    strip_format_b,
)

__all__ = ["add_format_a_crcs", "add_format_b_crcs", "crc16", "format_a_length", "strip_crcs", "strip_format_a",
           "strip_format_b"]


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
