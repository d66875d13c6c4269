"""Data link layer (EN 13757-4): frame formats A/B with CRCs, CRC-free frames, wired M-Bus long frames.

Receivers hand frames over in different shapes (fact sheet §1.9): with format-A CRCs (CUL), format-B CRCs
(CUL ``bY``), already stripped (iM871A, AMB8465, rtl-wmbus), sometimes without the L byte. We try
"strip A", then "strip B", then "no CRCs", then "no L" (payload starting at a known C-field).
The result always starts at L with format-A meaning (L = bytes after L, no CRCs).

Wired M-Bus long frames ``68 L L 68 C A CI … CS 16`` are accepted too; they carry the meter identity in the
TPL long header only.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from decoders import wire
from decoders.crc import Checks, block_ok, checks_ok, span_checks
from decoders.errors import LinkLayerError

MIN_FRAME = 11  # L C M(2) A(6) CI
# C-fields that may start a frame whose L byte the receiver dropped (meter → other).
L_LESS_C_FIELDS = frozenset({0x44, 0x46, 0x08, 0x48, 0x47})


class LinkFrame(NamedTuple):
    """A CRC-free frame and its DLL fields. ``data`` starts at L; the CI is at ``ci_offset``."""

    data: bytes
    frame_format: str
    c_field: int
    m_field: int
    id_bytes: bytes
    version: int
    device_type: int
    ci_offset: int
    wired: bool = False


def _a_layout(length: int) -> tuple[tuple[tuple[int, int], ...], int]:
    """Format A block spans (data + its CRC) for an L field, and the raw frame size they cover."""
    spans = [(0, 12)]
    pos, remaining = 12, length - 9
    while remaining > 0:
        n = min(16, remaining)
        spans.append((pos, pos + n + 2))
        pos += n + 2
        remaining -= n
    return tuple(spans), pos


class _APlan(NamedTuple):
    """Format A for one L value: raw frame size, CRC checks, and an unpacker giving the data parts."""

    size: int
    checks: Checks
    parts: struct.Struct


def _a_plan(length: int) -> _APlan:
    spans, size = _a_layout(length)
    return _APlan(size, span_checks(spans), struct.Struct("".join(f"{end - start - 2}s2x" for start, end in spans)))


# L → format A plan (None for L < 10), built once at import.
_A_PLANS: tuple[_APlan | None, ...] = tuple(_a_plan(n) if n >= 10 else None for n in range(256))


def _strip_b(frame: bytes) -> bytes | None:
    length = frame[0]
    if length < 12 or length == 128 or len(frame) != length + 1:
        return None
    if length + 1 <= 128:
        if not block_ok(frame, 0, length + 1):
            return None
        return bytes((length - 2,)) + frame[1 : length - 1]
    if not (block_ok(frame, 0, 128) and block_ok(frame, 128, length + 1)):
        return None
    return bytes((length - 4,)) + frame[1:126] + frame[128 : length - 1]


def _wired(frame: bytes) -> LinkFrame | None:
    n = len(frame)
    if n < 9 or frame[0] != 0x68 or frame[3] != 0x68 or frame[1] != frame[2] or frame[-1] != 0x16:
        return None
    if n != frame[1] + 6:
        return None
    if sum(frame[4:-2]) & 0xFF != frame[-2]:
        raise LinkLayerError("link: wired M-Bus long frame checksum mismatch")
    # Re-shape as L C M(0) A(primary address, padded) CI …: identity comes from the TPL long header.
    body = frame[6:-2]
    data = bytes((len(body) + 9, frame[4], 0, 0, frame[5], 0, 0, 0, 0, 0)) + body
    return LinkFrame(data, "wired", frame[4], 0, bytes(4), 0, 0, 10, wired=True)


def _no_crc(frame: bytes) -> bytes:
    length = frame[0]
    n = len(frame)
    if length == n - 1:
        return frame
    if length < n - 1:
        return frame[: length + 1]  # trailing receiver bytes (RSSI, a kept final CRC)
    if frame[0] in L_LESS_C_FIELDS and n >= MIN_FRAME - 1 and n <= 255:
        return bytes((n,)) + frame  # receiver dropped the L byte
    raise LinkLayerError(f"link: L field says {length} bytes follow but the frame has {n - 1}")


def normalize(frame: bytes) -> LinkFrame:
    """Detect the frame shape, check and remove CRCs, and parse the DLL header."""
    n = len(frame)
    if n < MIN_FRAME - 1:
        raise LinkLayerError(f"link: frame of {n} bytes is shorter than a DLL header")
    length = frame[0]
    wired = _wired(frame) if length == 0x68 else None  # a long frame's start byte (also L = 104)
    if wired is not None:
        return wired
    plan = _A_PLANS[length]
    if plan is not None and n == plan.size:
        if not checks_ok(frame, plan.checks):
            data = _strip_b(frame)
            if data is None:
                raise LinkLayerError("link: frame format A CRC mismatch")
            fmt = "B"
        else:
            fmt, data = "A", b"".join(plan.parts.unpack_from(frame))
    else:
        fmt, data = "B", _strip_b(frame)
        if data is None:
            fmt, data = "none", _no_crc(frame)
    if len(data) < MIN_FRAME:
        raise LinkLayerError(f"link: {len(data)} bytes after CRC removal, no room for a CI field")
    _l, c, m, ident, version, dtype = _DLL(data, 0)
    return _new_tuple(LinkFrame, (data, fmt, c, m, ident, version, dtype, 10, False))


_DLL = wire.DLL_FAST.unpack_from
_new_tuple = tuple.__new__
