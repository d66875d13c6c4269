"""Batch writer: one transaction per ingest batch, deduplicated against what is already stored.

One call to :func:`write_rows` (or :func:`write_batch`) is one transaction: readings, raw frames and dead
letters of an ingest batch are committed together or not at all, so the caller may acknowledge the batch's
messages after it returns.

Deduplication, under a transaction advisory lock so concurrent workers cannot both insert the same telegram:

* ``readings``: a reading of the same meter with the same access number within ``dedupe_window_s`` already
  stored (a redelivered message, or another gateway's copy of the same telegram merged by another worker)
  suppresses the new one; a reading without an access number (-1) only matches its own time. The key is
  ``(meter_key, measured_at, access_number)``.
* ``raw_frames``: a frame with the same digest received within the window gets the new receptions appended
  to its ``gateways``/``rssi_dbm``/``heard_at`` arrays instead of a new row; a reception already there is
  skipped.

The default ``probe`` strategy looks everything up in one index-only query and binary-COPYs the new rows
straight into the month's partitions; ``staging`` (and the fallback after a unique violation) COPYs into temp
tables and merges with ``INSERT … ON CONFLICT DO NOTHING``. See docs/ingest.md for the measurements.
Columns and the COPY plumbing live in :mod:`storage.writer_copy`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import cast

import psycopg

from core.ids import meter_key
from core.types import SOURCE_CODES, Reading, alarm_mask
from storage.copybin import (
    PG_EPOCH,
    bytea_array,
    encode_frame_rows,
    int2_array,
    int8_array,
    pg_times,
    pg_times_array,
)
from storage.errors import StorageError, TransientStorageError
from storage.rows import BatchResult, DeadLetter, StoredFrame
from storage.writer_copy import (
    FRAME_COLUMNS,
    FRAME_TYPES,
    READING_COLUMNS,
    READING_TYPES,
    ByteaArray,
    Int2Array,
    Int8Array,
    TimestamptzArray,
    copy_encoded_frames,
    copy_frames,
    copy_readings,
    copy_rows,
    reading_copy,
    register_array_dumpers,
)

__all__ = ["FRAME_COLUMNS", "FRAME_TYPES", "NO_ACCESS_NUMBER", "READING_COLUMNS", "READING_TYPES", "copy_rows",
           "ensure_staging", "frame_row", "is_native", "reading_row", "write_batch", "write_rows"]

NO_ACCESS_NUMBER = -1  # readings.access_number of a reading without one (it is part of the primary key)
MERGE_LOCK = 0x6F64637A79745F77  # "odczyt_w": serialises the merge step of every writer
MAX_DEAD_LETTER_BYTES = 64 * 1024

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage_readings (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_frames (LIKE raw_frames INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""

_MERGE_READINGS = """
INSERT INTO readings SELECT s.* FROM stage_readings s
 WHERE NOT EXISTS (
       SELECT 1 FROM readings r
        WHERE r.meter_key = s.meter_key AND r.access_number = s.access_number
          AND r.measured_at BETWEEN s.measured_at - CASE WHEN s.access_number < 0 THEN '0 s' ELSE %(window)s END
                                AND s.measured_at + CASE WHEN s.access_number < 0 THEN '0 s' ELSE %(window)s END)
ON CONFLICT DO NOTHING
RETURNING meter_key, measured_at
"""

_MARK_DIRTY = """
INSERT INTO rollup_dirty SELECT DISTINCT date_bin('1 hour', {t}, '2000-01-01 00:00+00') FROM {table}
ON CONFLICT DO NOTHING
"""

# One probe for the batch's readings (k, t, a) and frames (d, t), passed as binary array parameters; it returns
# the readings already stored (d NULL) and the frames already stored (k NULL). Both are one range scan of a
# primary key whose every condition is checked on index entries, so a new telegram reads no table page: the
# same telegram (meter, access number) within the window — only at its own time for a reading without an
# access number (-1) — and a frame's digest within the window. The hours the readings fall in are marked dirty
# for the rollups in the same statement (a duplicate's hour too: a needless recompute is harmless, a missed one
# is not). Only the native backend has rollup_dirty: on TimescaleDB the continuous aggregates track their own
# invalidations, and the probe runs without the CTE.
_DIRTY_CTE = "WITH dirty AS (INSERT INTO rollup_dirty SELECT unnest(%(hours)s::timestamptz[]) ON CONFLICT DO NOTHING)"
_PROBE = """
SELECT s.k, s.t, s.a, NULL::bytea FROM unnest(%(k)b, %(t)b, %(a)b) AS s(k, t, a)
 WHERE EXISTS (SELECT 1 FROM {readings} r
                WHERE r.meter_key = s.k AND r.access_number = s.a
                  AND r.measured_at BETWEEN s.t - CASE WHEN s.a < 0 THEN interval '0' ELSE %(w)s END
                                        AND s.t + CASE WHEN s.a < 0 THEN interval '0' ELSE %(w)s END)
UNION ALL
SELECT NULL, f.t, NULL, f.d FROM unnest(%(d)b, %(ft)b) AS f(d, t)
 WHERE EXISTS (SELECT 1 FROM {frames} x
                WHERE x.frame_digest = f.d AND x.received_at BETWEEN f.t - %(w)s AND f.t + %(w)s)
"""

# TimescaleDB: the probe reads the hypertables through the batch's time span as constants, so the planner keeps
# only the chunks of that span (probing the parent, every probed row descended into every chunk's index).
_TS_READINGS = ("(SELECT meter_key, measured_at, access_number FROM readings "
                "WHERE measured_at BETWEEN %(rlo)s AND %(rhi)s)")
_TS_FRAMES = "(SELECT frame_digest, received_at FROM raw_frames WHERE received_at BETWEEN %(flo)s AND %(fhi)s)"

_REPLACE_READINGS = (
    "DELETE FROM readings r USING stage_readings s WHERE r.meter_key = s.meter_key AND r.measured_at = s.measured_at",
    "INSERT INTO readings SELECT s.* FROM stage_readings s",
)

_MERGE_FRAMES_UPDATE = """
UPDATE raw_frames f
   SET gateways = f.gateways || s.gateways, rssi_dbm = f.rssi_dbm || s.rssi_dbm,
       heard_at = f.heard_at || s.heard_at
  FROM stage_frames s
 WHERE f.frame_digest = s.frame_digest
   AND f.received_at BETWEEN s.received_at - %(window)s AND s.received_at + %(window)s
   AND NOT f.heard_at @> s.heard_at
"""

_MERGE_FRAMES_INSERT = """
INSERT INTO raw_frames SELECT s.* FROM stage_frames s
 WHERE NOT EXISTS (SELECT 1 FROM raw_frames f
                    WHERE f.frame_digest = s.frame_digest
                      AND f.received_at BETWEEN s.received_at - %(window)s AND s.received_at + %(window)s)
ON CONFLICT DO NOTHING
"""

_MERGE_DEAD = """
INSERT INTO dead_letters (digest, topic, reason, detail, payload, size_bytes, first_seen, last_seen, count)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (digest) DO UPDATE SET last_seen = greatest(dead_letters.last_seen, EXCLUDED.last_seen),
                                   count = dead_letters.count + EXCLUDED.count
"""


_LOCK_AND_SET = (f"SELECT pg_advisory_xact_lock({MERGE_LOCK})", "SET LOCAL enable_hashjoin = off",
                 "SET LOCAL enable_mergejoin = off")

_meter_key = functools.lru_cache(maxsize=1 << 18)(meter_key)


def reading_row(r: Reading) -> tuple[object, ...]:
    """A ``core.types.Reading`` as a ``readings`` row (column order of :data:`READING_COLUMNS`)."""
    return (_meter_key(r.manufacturer, r.meter_id), r.measured_at, r.received_at, r.total_m3, r.target_m3,
            r.target_date, r.backward_m3, r.flow_m3h, alarm_mask(r.alarms), SOURCE_CODES[r.source],
            NO_ACCESS_NUMBER if r.access_number is None else r.access_number)


def frame_row(f: StoredFrame) -> tuple[object, ...]:
    """A :class:`StoredFrame` as a ``raw_frames`` row (column order of :data:`FRAME_COLUMNS`)."""
    decoded_at = f.received_at if f.meter_key is not None and f.status == 0 else None
    return (f.received_at, f.frame_digest, f.link_key, f.meter_key, f.payload, int(f.status), f.error,
            f.link_mode, list(f.gateways), list(f.rssi_dbm), list(f.heard_at), f.lat, f.lon, decoded_at)


_HOUR_US = 3_600_000_000


def ensure_staging(conn: psycopg.Connection) -> None:
    """Create this session's temp staging tables and array dumpers (no-op when done)."""
    if not getattr(conn, "_odczyt_staged", False):
        register_array_dumpers(conn)
        with conn.transaction():
            # temp_buffers can only change before the session first touches a temp table
            conn.execute("SET temp_buffers = '64MB'")
            conn.execute(_STAGE_DDL)
        conn._odczyt_staged = True  # type: ignore[attr-defined]


def is_native(conn: psycopg.Connection) -> bool:
    """True when this database uses native partitioning (so the writer marks rollup buckets dirty)."""
    cached = getattr(conn, "_odczyt_native", None)
    if cached is None:
        with conn.transaction():
            row = conn.execute("SELECT value FROM odczyt_settings WHERE key = 'backend'").fetchone()
        cached = row is None or row[0] == "native"
        conn._odczyt_native = cached  # type: ignore[attr-defined]
    return bool(cached)


def write_batch(conn: psycopg.Connection, *, readings: Sequence[Reading] = (),
                frames: Sequence[StoredFrame] = (), dead_letters: Sequence[DeadLetter] = (),
                dedupe_window_s: float = 0.0, replace: bool = False, strategy: str = "probe") -> BatchResult:
    """Commit one batch in one transaction; return how many rows were new and how many were duplicates.

    ``conn`` must be idle (autocommit mode or no open transaction). ``replace`` overwrites the values of
    readings already stored (re-decoding after a driver fix) instead of keeping them. ``strategy`` is
    ``"probe"`` (look the batch's keys up, then binary COPY the new rows straight into ``readings``; any
    conflict falls back to staging) or ``"staging"`` (binary COPY into a temp table, ``INSERT … ON CONFLICT
    DO NOTHING``); ``benchmarks/ingest.py`` measures both. Raises :class:`TransientStorageError` when the
    database is unreachable (then nothing was committed).
    """
    return write_rows(conn, reading_rows=[reading_row(r) for r in readings], frame_rows=[frame_row(f) for f in frames],
                      dead_letters=dead_letters, dedupe_window_s=dedupe_window_s, replace=replace, strategy=strategy)


def write_rows(conn: psycopg.Connection, *, reading_rows: Sequence[tuple[object, ...]] = (),
               frame_rows: Sequence[tuple[object, ...]] = (), dead_letters: Sequence[DeadLetter] = (),
               dedupe_window_s: float = 0.0, replace: bool = False, strategy: str = "probe") -> BatchResult:
    """:func:`write_batch` for rows already in table form (:func:`reading_row`, :func:`frame_row`): the ingest
    worker builds them directly, without the intermediate objects."""
    window = timedelta(seconds=dedupe_window_s)
    try:
        native = is_native(conn)
        ensure_staging(conn)
        # The probe path needs no check that (meter, time) is unique within the batch: a repeated key ends in a
        # unique violation, which redoes the batch through staging (whose ON CONFLICT handles it).
        rows = _unique(reading_rows) if replace or strategy != "probe" else list(reading_rows)
        try:
            inserted, merged, new_frames = _transaction(conn, rows, frame_rows, dead_letters, window, native,
                                                        replace, strategy)
        except psycopg.errors.UniqueViolation:
            if strategy != "probe" or replace:
                raise
            # The batch repeats a key, or a writer that bypasses the merge lock stored one of the probed-new keys
            # first: the transaction was rolled back, so redo all of it on the slow, always-correct path.
            rows = _unique(rows)
            inserted, merged, new_frames = _transaction(conn, rows, frame_rows, dead_letters, window, native,
                                                        replace, "staging")
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown, psycopg.errors.ReadOnlySqlTransaction) as exc:
        # a read-only database (a standby before promotion, SQLSTATE 25006) is a passing state, not bad data
        raise TransientStorageError(f"write_batch: database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"write_batch: {exc}") from exc
    return BatchResult(len(inserted), len(reading_rows) - len(inserted), new_frames, merged, len(dead_letters))


def _transaction(conn: psycopg.Connection, rows: list[tuple[object, ...]], frame_rows: Sequence[tuple[object, ...]],
                 dead_letters: Sequence[DeadLetter], window: timedelta, native: bool, replace: bool,
                 strategy: str) -> tuple[list[tuple[object, ...]], int, int]:
    with conn.transaction(), conn.cursor() as cur:
        if strategy == "probe" and not replace:
            inserted, merged, new_frames = _probe_and_copy(cur, rows, frame_rows, window, native)
        else:
            if frame_rows:
                copy_frames(cur, "stage_frames", frame_rows)
            for statement in _LOCK_AND_SET:
                cur.execute(statement)
            inserted = _write_readings(cur, rows, window, native, replace)
            merged, new_frames = _merge_frames(cur, bool(frame_rows), window)
        if dead_letters:
            cur.executemany(_MERGE_DEAD, _dead_rows(dead_letters))
    return inserted, merged, new_frames


def _unique(rows: Sequence[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Rows with distinct ``(meter_key, measured_at)`` (the first of a batch wins)."""
    if len({(row[0], row[1]) for row in rows}) == len(rows):  # the usual case: no per-row dict work
        return list(rows)
    out: dict[tuple[object, object], tuple[object, ...]] = {}
    for row in rows:
        out.setdefault((row[0], row[1]), row)
    return list(out.values())


def _write_readings(cur: psycopg.Cursor, rows: list[tuple[object, ...]], window: timedelta, native: bool,
                    replace: bool) -> list[tuple[object, ...]]:
    """Readings through ``stage_readings``: merged (``ON CONFLICT DO NOTHING``) or, with ``replace``, upserted."""
    if not rows:
        return []
    if replace:
        copy_readings(cur, "stage_readings", rows)
        for sql in _REPLACE_READINGS:
            cur.execute(sql)
        new = rows
    else:
        new = _staging_merge(cur, rows, window)
    if native and new:
        # Hours the batch touched (a duplicate's hour too: a needless recompute is harmless).
        cur.execute(_MARK_DIRTY.format(t="measured_at", table="stage_readings"))
    return new


def _probe_and_copy(cur: psycopg.Cursor, rows: list[tuple[object, ...]], frame_rows: Sequence[tuple[object, ...]],
                    window: timedelta, native: bool) -> tuple[list[tuple[object, ...]], int, int]:
    """Drop what is already stored, binary COPY the rest straight into ``readings`` and ``raw_frames``.

    The batch's reading keys and frame digests (each sorted, so the probe walks the indexes in order) are sent
    as binary array parameters of one query under the merge lock, which finds the stored ones and marks the
    batch's hours dirty (no staging table, no COPY of the keys: that COPY cost as much as the probe). A frame
    already stored (another gateway's copy, merged by another worker or in an
    earlier batch) gets its receptions appended through ``stage_frames``. A unique violation in a final COPY
    propagates: :func:`write_batch` rolls the whole transaction back and redoes the batch with staging.
    """
    keys = cast(list[tuple[int, datetime, int]], [(r[0], r[1], r[10]) for r in rows])
    keys.sort(key=itemgetter(0))  # meter order is what walks the index in order (sorting on times too costs more)
    # Frames are encoded before the probe, which needs their times: each time is converted once (a reading's time
    # is usually its frame's very object, so the readings' times come from the same conversions).
    encoded, frame_t = encode_frame_rows(frame_rows)
    frame_times = [cast(datetime, f[0]) for f in frame_rows]
    digests = cast(list[tuple[bytes, int]], list(zip([f[1] for f in frame_rows], frame_t, strict=True)))
    digests.sort(key=itemgetter(0))
    if not keys and not digests:
        return [], 0, 0
    times = [k[1] for k in keys]
    pg_t = pg_times(times, dict(zip(map(id, frame_times), frame_t, strict=True)))
    hours = [PG_EPOCH + timedelta(microseconds=h * _HOUR_US) for h in {t // _HOUR_US for t in pg_t}] if native else []
    # The month's partitions when the batch (± the window) lies in one: probed, and COPYed into, directly.
    readings_table = _probe_table(cur, "readings", times, window)
    frames_table = _probe_table(cur, "raw_frames", frame_times, window)
    sql = (_DIRTY_CTE if native else "") + _PROBE.format(
        readings=readings_table if native else _TS_READINGS, frames=frames_table if native else _TS_FRAMES)
    span = times or frame_times
    fspan = frame_times or span
    params = {"hours": hours, "w": window, "rlo": min(span) - window, "rhi": max(span) + window,
              "flo": min(fspan) - window, "fhi": max(fspan) + window,
              "k": Int8Array(int8_array([k[0] for k in keys])),
              "t": TimestamptzArray(pg_times_array(pg_t)),
              "a": Int2Array(int2_array([k[2] for k in keys])),
              "d": ByteaArray(bytea_array([d for d, _ in digests])),
              "ft": TimestamptzArray(pg_times_array([t for _, t in digests]))}
    with cur.connection.pipeline():  # the lock, the planner settings and the probe in one round trip
        for statement in _LOCK_AND_SET:
            cur.execute(statement)
        cur.execute(sql, params)  # sent: the server runs the probe while the readings are encoded for COPY
        encoded_readings = reading_copy(rows) if rows else None
    dup_readings: set[tuple[object, object, object]] = set()
    stored_frames: set[tuple[object, object]] = set()
    for k, t, a, d in cur.fetchall():
        if d is None:
            dup_readings.add((k, t, a))
        else:
            stored_frames.add((t, d))
    if dup_readings:
        new = [r for r in rows if (r[0], r[1], r[10]) not in dup_readings]
        encoded_readings = None
    else:
        new = rows
    if new:
        copy_readings(cur, readings_table, new, encoded_readings)
    if not stored_frames:
        new_frames = encoded
        merged = 0
    else:
        stored = [(f[0], f[1]) in stored_frames for f in frame_rows]
        new_frames = [e for e, s in zip(encoded, stored, strict=True) if not s]
        copy_encoded_frames(cur, "stage_frames", [e for e, s in zip(encoded, stored, strict=True) if s])
        merged = cur.execute(_MERGE_FRAMES_UPDATE, {"window": window}).rowcount
    if new_frames:
        copy_encoded_frames(cur, frames_table, new_frames)
    return new, merged, len(new_frames)


def _probe_table(cur: psycopg.Cursor, parent: str, times: Sequence[datetime], window: timedelta) -> str:
    """The monthly partition of ``parent`` holding every time in ``times`` (± the window) when there is one,
    else ``parent``.

    Probing one partition directly costs half as much as probing the parent, whose runtime partition
    pruning is paid again for every probed row; a COPY into it skips routing every row. (TimescaleDB names
    its chunks otherwise: there, ``parent`` it is.)
    """
    if not times:
        return parent
    lo, hi = min(times) - window, max(times) + window
    if (lo.year, lo.month) != (hi.year, hi.month):
        return parent
    name = f"{parent}_p{lo.year:04d}{lo.month:02d}"
    known: set[str] = cur.connection.__dict__.setdefault("_odczyt_partitions", set())
    if name not in known:
        row = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        if not (row and row[0]):
            return parent
        known.add(name)
    return name


def _staging_merge(cur: psycopg.Cursor, rows: list[tuple[object, ...]],
                   window: timedelta) -> list[tuple[object, ...]]:
    copy_readings(cur, "stage_readings", rows)
    kept = cur.execute(_MERGE_READINGS, {"window": window}).fetchall()
    stored = {(k, t) for k, t in kept}
    return [r for r in rows if (r[0], r[1]) in stored]


def _merge_frames(cur: psycopg.Cursor, any_frames: bool, window: timedelta) -> tuple[int, int]:
    if not any_frames:
        return 0, 0
    merged = cur.execute(_MERGE_FRAMES_UPDATE, {"window": window}).rowcount
    inserted = cur.execute(_MERGE_FRAMES_INSERT, {"window": window}).rowcount
    return merged, inserted


def _dead_rows(dead: Sequence[DeadLetter]) -> list[tuple[object, ...]]:
    grouped: dict[bytes, tuple[DeadLetter, int]] = {}
    for d in dead:
        first, count = grouped.get(d.digest, (d, 0))
        grouped[d.digest] = (first, count + 1)
    return [(d.digest, d.topic, d.reason, d.detail, d.payload[:MAX_DEAD_LETTER_BYTES], len(d.payload),
             d.seen_at, d.seen_at, n) for d, n in grouped.values()]
