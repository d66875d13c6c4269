"""PostgreSQL binary COPY encoding of ``raw_frames`` rows, written directly instead of through psycopg's dumpers.

psycopg dumps arrays in Python (a few µs per array; a frame row has three), which made the raw frames the
largest client-side cost of an ingest batch. The binary COPY format is simple and stable (PostgreSQL docs,
"COPY — Binary Format"): a signature, then per row a 16-bit field count and, per field, a 32-bit length (-1 for
NULL) and the value in the type's binary send format; a 16-bit -1 ends the data. ``tests/storage`` checks the
result against psycopg's own encoding through a real server.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_OID_TEXT, _OID_FLOAT4, _OID_TIMESTAMPTZ = 25, 700, 1184

_NULL = struct.pack("!i", -1)
_I16 = struct.Struct("!ih").pack  # length 2, value
_I64 = struct.Struct("!iq").pack  # length 8, value
_F64 = struct.Struct("!id").pack
_LEN = struct.Struct("!i").pack
_F4_ITEM = struct.Struct("!if").pack
_T_ITEM = struct.Struct("!iq").pack
_ARRAY_HEAD = struct.Struct("!iiiiii").pack  # byte length, ndim, has-nulls, element oid, size, lower bound
_FIELDS = struct.pack("!h", 14)


def _ts(value: datetime) -> int:
    return (value - _PG_EPOCH) // _US


def _bytes(value: bytes) -> bytes:
    return _LEN(len(value)) + value


def _text(value: str | None) -> bytes:
    return _NULL if value is None else _bytes(value.encode())


def _int8(value: int | None) -> bytes:
    return _NULL if value is None else _I64(8, value)


def _float8(value: float | None) -> bytes:
    return _NULL if value is None else _F64(8, value)


def _timestamptz(value: datetime | None) -> bytes:
    return _NULL if value is None else _I64(8, _ts(value))


def _array(oid: int, items: list[bytes], has_null: bool) -> bytes:
    body = b"".join(items)
    return _ARRAY_HEAD(20 + len(body), 1, int(has_null), oid, len(items), 1) + body


def _text_array(values: Sequence[str]) -> bytes:
    return _array(_OID_TEXT, [_bytes(v.encode()) for v in values], False)


def _float4(value: float | None) -> bytes:
    if value is None:
        return _NULL
    try:
        return _F4_ITEM(4, value)
    except OverflowError:  # beyond float4's range (a receiver's nonsense): ±infinity rather than a failed batch
        return _F4_ITEM(4, math.copysign(math.inf, value))


def _float4_array(values: Sequence[float | None]) -> bytes:
    return _array(_OID_FLOAT4, [_float4(v) for v in values], None in values)


def _timestamptz_array(values: Sequence[datetime]) -> bytes:
    return _array(_OID_TIMESTAMPTZ, [_T_ITEM(8, _ts(v)) for v in values], False)


def frame_row_bytes(row: tuple[object, ...]) -> bytes:
    """One ``raw_frames`` row (``storage.writer.FRAME_COLUMNS`` order and types) in binary COPY form."""
    (received_at, digest, link_key, meter_key, payload, status, error, link_mode, gateways, rssi, heard_at, lat,
     lon, decoded_at) = row
    return b"".join((
        _FIELDS, _I64(8, _ts(received_at)), _bytes(digest), _int8(link_key), _int8(meter_key),  # type: ignore[arg-type]
        _bytes(payload), _I16(2, status), _text(error), _text(link_mode),  # type: ignore[arg-type]
        _text_array(gateways), _float4_array(rssi), _timestamptz_array(heard_at),  # type: ignore[arg-type]
        _float8(lat), _float8(lon), _timestamptz(decoded_at)))  # type: ignore[arg-type]


def frame_copy_data(rows: Iterable[tuple[object, ...]]) -> bytes:
    """A whole binary COPY stream (signature, rows, trailer) of ``raw_frames`` rows."""
    return b"".join((SIGNATURE, *map(frame_row_bytes, rows), TRAILER))
