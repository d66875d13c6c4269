"""Pure wireless M-Bus / OMS decoding: ``decode(frame, keys) -> Telegram``.

Layers: link (frame A/B/no CRC, wired long frames) → ELL (AES-CTR) → AFL (CMAC) → TPL (security modes 0, 5,
7, DES 2/3) → application records (DIF/VIF) or compact frames → a meter driver → :class:`Telegram`.
No I/O, no clock, no settings, no module-level mutable state; the compact-format cache is an explicit object.
"""

from __future__ import annotations

from decoders.compact import CompactFormatCache
from decoders.errors import (
    AflError,
    ApplicationError,
    CompactFormatUnknownError,
    DecodeError,
    DriverError,
    EllError,
    KeyMissingError,
    LinkLayerError,
    SecurityError,
    TplError,
    WrongKeyError,
)
from decoders.keys import KeyLookup, static_keys
from decoders.model import Record, Telegram
from decoders.stack import decode_frame

__all__ = [
    "AflError",
    "ApplicationError",
    "CompactFormatCache",
    "CompactFormatUnknownError",
    "DecodeError",
    "DriverError",
    "EllError",
    "KeyLookup",
    "KeyMissingError",
    "LinkLayerError",
    "Record",
    "SecurityError",
    "Telegram",
    "TplError",
    "WrongKeyError",
    "decode",
    "static_keys",
]


def decode(
    frame: bytes, keys: KeyLookup | None = None, *, compact_formats: CompactFormatCache | None = None
) -> Telegram:
    """Decode one wM-Bus frame (starting at the L field, with or without DLL CRCs).

    ``keys(manufacturer, meter_id)`` returns candidate AES keys for a meter; ``compact_formats`` is the
    cache that full frames teach and compact frames (CI 0x79) read. Raises only :class:`DecodeError`
    subclasses; their ``layer`` attribute says where decoding stopped.
    """
    try:
        return decode_frame(bytes(frame), keys, compact_formats)
    except DecodeError:
        raise
    except Exception as exc:  # a bug in a layer must still surface as a DecodeError
        raise DecodeError(f"internal error: {type(exc).__name__}: {exc}", layer="internal") from exc
