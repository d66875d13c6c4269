"""Compact frames (CI 0x79/0x7B/0x73, fact sheet §2.9) and the explicit format cache they need.

A compact frame carries ``signature(2) ‖ full CRC(2) ‖ values``; the signature is the CRC-16/EN-13757 of
the DIF/VIF bytes of the equivalent full frame, which the receiver must have seen before. The cache is an
explicit object the caller owns (the decoder keeps no state) and holds what full frames taught; when it has no
entry, the shipped table of known formats (:mod:`decoders.compact_table`: Multical 21, flowIQ 2101/2200,
KWM2231, Multical 302/403) is consulted, so such frames decode on first sight.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter

from decoders import records as apl
from decoders.compact_table import known_formats_by_signature
from decoders.crc import crc16
from decoders.errors import ApplicationError, CompactFormatUnknownError
from decoders.model import Record

_KEY = itemgetter(0)  # Record.key


class CompactFormatCache:
    """Signature → record headers, learnt from full frames (bounded; oldest entries dropped first)."""

    def __init__(self, known: Iterable[str | bytes] = (), max_size: int = 4096) -> None:
        self._formats: dict[int, tuple[apl.Header, ...]] = {}
        self._learnt: dict[str, int] = {}  # record keys joined → signature, so a repeated layout costs one lookup
        self._max = max_size
        for fmt in known:
            self.learn(bytes.fromhex(fmt) if isinstance(fmt, str) else fmt)

    def __len__(self) -> int:
        return len(self._formats)

    def learn(self, format_bytes: bytes) -> int:
        """Remember a format (concatenated DIF…VIFE bytes); returns its signature."""
        sig = crc16(format_bytes)
        if sig not in self._formats:
            if len(self._formats) >= self._max:
                self._formats.pop(next(iter(self._formats)))
            self._formats[sig] = parse_format(format_bytes)
        return sig

    def learn_records(self, records: tuple[Record, ...]) -> int | None:
        """Remember the format of a full frame's records."""
        if not records:
            return None
        keys = "".join(map(_KEY, records))
        sig = self._learnt.get(keys)
        if sig is None or sig not in self._formats:
            sig = self.learn(bytes.fromhex(keys))
            if len(self._learnt) >= self._max:
                self._learnt.pop(next(iter(self._learnt)))
            self._learnt[keys] = sig
        return sig

    def get(self, signature: int) -> tuple[apl.Header, ...] | None:
        """Headers for a signature, or None when unknown."""
        return self._formats.get(signature)


def _known() -> dict[int, tuple[apl.Header, ...]]:
    return {sig: parse_format(fmt) for sig, fmt in known_formats_by_signature().items()}


def decode_compact(payload: bytes, cache: CompactFormatCache | None) -> tuple[Record, ...]:
    """Decode a compact payload (starting at the signature) with the cache, else the shipped known formats."""
    if len(payload) < 4:
        raise ApplicationError("APL compact frame: shorter than signature + CRC")
    sig = payload[0] | payload[1] << 8
    headers = cache.get(sig) if cache is not None else None
    if headers is None:
        headers = _KNOWN.get(sig)
    if headers is None:
        raise CompactFormatUnknownError(
            f"APL compact frame: format signature 0x{sig:04x} unknown (no earlier full frame seen)"
        )
    return decode_with_format(headers, payload, 4, len(payload))


def parse_format(fmt: bytes) -> tuple[apl.Header, ...]:
    """Parse a compact-frame format (concatenated DIF/VIF headers, no data) into headers."""
    headers: list[apl.Header] = []
    pos, end = 0, len(fmt)
    while pos < end:
        if fmt[pos] == 0x2F:
            pos += 1
            continue
        if (fmt[pos] & 0x0F) == 0x0F:
            raise ApplicationError(f"APL record at offset {pos}: special DIF 0x{fmt[pos]:02x} in a compact format")
        h, pos = apl.parse_header(fmt, pos, end)
        headers.append(h)
    return tuple(headers)


def decode_with_format(headers: tuple[apl.Header, ...], buf: bytes, pos: int, end: int) -> tuple[Record, ...]:
    """Decode the data values of a compact frame with a known format."""
    out = []
    for h in headers:
        rec, pos = apl.read_value(h, buf, pos, end)
        out.append(rec)
    return tuple(out)


_KNOWN = _known()
