"""Telegram text → frame bytes, with the leniency users bring from other tools (the input contract).

Accepted: upper or lower case hex digits; an optional ``0x``/``0X`` prefix; whitespace anywhere (a frame pasted
from a log, split over lines or in byte groups); ``_`` and ``|`` separators as wmbusmeters writes telegrams
(``2A442D2C…_02FF20…``). Refused with :class:`~decoders.errors.InputError` and a message that says where: any
other character, an empty frame, and an odd number of hex digits (a frame is whole bytes — guessing which
nibble is missing would decode something the meter never sent).
"""

from __future__ import annotations

import re

from decoders.errors import InputError

_SEPARATORS = re.compile(r"[\s_|]+")
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


def frame_from_hex(text: str) -> bytes:
    """The frame bytes a hex text spells (rules in the module docstring)."""
    s = text.strip()
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    s = _SEPARATORS.sub("", s)
    bad = _NOT_HEX.search(s)
    if bad is not None:
        raise InputError(f"input: {bad.group()!r} at hex digit {bad.start() + 1} is not a hex digit")
    if not s:
        raise InputError("input: empty frame (no hex digits)")
    if len(s) % 2:
        raise InputError(f"input: odd number of hex digits ({len(s)}): a frame is whole bytes")
    return bytes.fromhex(s)
