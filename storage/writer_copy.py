"""The writer's COPY plumbing: table columns and types, binary COPY of readings and raw frames, and the
dumpers that pass the probe's hand-encoded array parameters through (:mod:`storage.copybin` encodes them)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format

from storage.copybin import copy_data, frame_row_bytes, reading_copy_data

READING_COLUMNS = ("meter_key", "measured_at", "received_at", "total_m3", "target_m3", "target_date",
                   "backward_m3", "flow_m3h", "alarms", "source", "access_number")
READING_TYPES = ("int8", "timestamptz", "timestamptz", "float8", "float8", "date",
                 "float8", "float8", "int4", "int2", "int2")
FRAME_COLUMNS = ("received_at", "frame_digest", "link_key", "meter_key", "payload", "status", "error",
                 "link_mode", "gateways", "rssi_dbm", "heard_at", "lat", "lon", "decoded_at")
FRAME_TYPES = ("timestamptz", "bytea", "int8", "int8", "bytea", "int2", "text", "text", "text[]",
               "float4[]", "timestamptz[]", "float8", "float8", "timestamptz")


def copy_rows(cur: psycopg.Cursor, table: str, columns: Sequence[str], types: Sequence[str],
              rows: Sequence[tuple[object, ...]]) -> None:
    """Binary ``COPY table (columns) FROM STDIN`` of ``rows``."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


class Int8Array(bytes):
    """An ``int8[]`` already in binary send format (:mod:`storage.copybin`); the other classes likewise."""


class Int2Array(bytes):
    pass


class TimestamptzArray(bytes):
    pass


class ByteaArray(bytes):
    pass


def _passthrough(oid: int) -> type[Dumper]:
    class _Encoded(Dumper):
        format = Format.BINARY

        def __init__(self, cls: type, context: AdaptContext | None = None) -> None:
            super().__init__(cls, context)
            self.oid = oid

        def dump(self, obj: Buffer) -> Buffer:
            return obj

    return _Encoded


_ARRAY_DUMPERS = ((Int8Array, 1016), (Int2Array, 1005), (TimestamptzArray, 1185), (ByteaArray, 1001))


def register_array_dumpers(conn: psycopg.Connection) -> None:
    """Let ``conn`` send the array classes above as they are (binary, with their array type's oid)."""
    for cls, oid in _ARRAY_DUMPERS:
        conn.adapters.register_dumper(cls, _passthrough(oid))


def reading_copy(rows: Sequence[tuple[object, ...]]) -> bytes | None:
    """Reading rows as binary COPY data (:mod:`storage.copybin`), or None when a value is outside what that
    encoder takes: psycopg's dumpers then store or reject it, as they always did."""
    try:
        return reading_copy_data(rows)
    except (struct.error, TypeError, OverflowError, AttributeError):
        return None


def copy_readings(cur: psycopg.Cursor, table: str, rows: Sequence[tuple[object, ...]],
                   encoded: bytes | None = None) -> None:
    """Binary COPY of reading rows (``encoded``: their :func:`reading_copy` data, when already made)."""
    data = encoded if encoded is not None else reading_copy(rows)
    if data is None:
        copy_rows(cur, table, READING_COLUMNS, READING_TYPES, rows)
        return
    with cur.copy(f"COPY {table} ({', '.join(READING_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)


def copy_frames(cur: psycopg.Cursor, table: str, frame_rows: Sequence[tuple[object, ...]]) -> None:
    copy_encoded_frames(cur, table, map(frame_row_bytes, frame_rows))


def copy_encoded_frames(cur: psycopg.Cursor, table: str, encoded: Iterable[bytes]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(FRAME_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(copy_data(encoded))
