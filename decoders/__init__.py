"""Pure wireless M-Bus / OMS decoding: ``decode(frame, keys) -> Telegram``.

Layers: link (frame A/B/no CRC, wired long frames) → ELL (AES-CTR) → AFL (CMAC) → TPL (security modes 0, 5,
7, DES 2/3) → application records (DIF/VIF) or compact frames → a meter driver → :class:`Telegram`.
No I/O, no clock, no settings, no module-level mutable state (but for memo tables of pure functions: the common
record headers met so far, ``decoders.records``); caches (compact formats, per-key AES objects)
are explicit objects — pass them in, or hold them in a :class:`Decoder`.
"""

from __future__ import annotations

from decoders.ciphers import CipherCache
from decoders.compact import CompactFormatCache
from decoders.errors import (
    AflError,
    ApplicationError,
    CompactFormatUnknownError,
    DecodeError,
    DriverError,
    EllError,
    InputError,
    KeyMissingError,
    LinkLayerError,
    SecurityError,
    TplError,
    WrongKeyError,
)
from decoders.hexinput import frame_from_hex
from decoders.keys import KeyLookup, static_keys
from decoders.model import HistoryEntry, Record, Telegram
from decoders.stack import decode_frame

__all__ = [
    "AflError",
    "ApplicationError",
    "CipherCache",
    "CompactFormatCache",
    "CompactFormatUnknownError",
    "DecodeError",
    "Decoder",
    "DriverError",
    "EllError",
    "HistoryEntry",
    "InputError",
    "KeyLookup",
    "KeyMissingError",
    "LinkLayerError",
    "Record",
    "SecurityError",
    "Telegram",
    "TplError",
    "WrongKeyError",
    "decode",
    "frame_from_hex",
    "static_keys",
]


def decode(
    frame: bytes,
    keys: KeyLookup | None = None,
    *,
    compact_formats: CompactFormatCache | None = None,
    ciphers: CipherCache | None = None,
) -> Telegram:
    """Decode one wM-Bus frame (starting at the L field, with or without DLL CRCs).

    ``keys(manufacturer, meter_id)`` returns candidate AES keys for a meter; ``compact_formats`` is the
    cache that full frames teach and compact frames (CI 0x79) read; ``ciphers`` keeps per-key AES objects
    between calls (a fresh one is used per call when omitted). Raises only :class:`DecodeError`
    subclasses; their ``layer`` attribute says where decoding stopped.
    """
    return _decode(frame, keys, compact_formats, CipherCache() if ciphers is None else ciphers)


def _decode(
    frame: bytes, keys: KeyLookup | None, compact_formats: CompactFormatCache | None, ciphers: CipherCache
) -> Telegram:
    try:
        return decode_frame(bytes(frame), keys, compact_formats, ciphers)
    except DecodeError:
        raise
    except Exception as exc:  # a bug in a layer must still surface as a DecodeError
        raise DecodeError(f"internal error: {type(exc).__name__}: {exc}", layer="internal") from exc


class Decoder:
    """A reusable decoder for one stream/worker: the key lookup plus its own caches.

    ``Decoder(keys).decode(frame)`` equals ``decode(frame, keys, compact_formats=…, ciphers=…)`` with caches
    that live as long as the object (compact formats learnt from full frames, per-key AES contexts).
    """

    __slots__ = ("ciphers", "compact_formats", "keys")

    def __init__(
        self,
        keys: KeyLookup | None = None,
        *,
        compact_formats: CompactFormatCache | None = None,
        ciphers: CipherCache | None = None,
    ) -> None:
        self.keys = keys
        self.compact_formats = CompactFormatCache() if compact_formats is None else compact_formats
        self.ciphers = CipherCache() if ciphers is None else ciphers

    def decode(self, frame: bytes) -> Telegram:
        """Decode one frame (see :func:`decode`)."""
        try:  # _decode, inlined: one call less per frame
            return decode_frame(bytes(frame), self.keys, self.compact_formats, self.ciphers)
        except DecodeError:
            raise
        except Exception as exc:  # a bug in a layer must still surface as a DecodeError
            raise DecodeError(f"internal error: {type(exc).__name__}: {exc}", layer="internal") from exc
