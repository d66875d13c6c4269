"""Telegram identity across gateways, clocks and replays (issue 13): which reading rows are new telegrams.

A reading row is claimed by ``(meter_key, access_number, payload digest)`` in ``telegram_ids`` in the same
transaction as its write. A row whose telegram is already claimed is a new reading only when it is an
identical telegram sent again at least :data:`COPY_HORIZON` later (a whole access-number cycle: a meter with no
consumption repeats its bytes) carrying the meter's latest total; otherwise it is another gateway's copy
(however skewed its clock, up to the horizon), a redelivery, or a replay of an old telegram — kept as a
reception in ``raw_frames``, never a second reading. Rows without an access number or digest are not claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import psycopg

from storage.errors import StorageError, TransientStorageError
from storage.rows import BatchResult, DeadLetter
from storage.writer import write_rows

COPY_HORIZON = timedelta(minutes=30)  # ≥ the largest gateway clock skew; < one access-number cycle (256 sends)

_CLAIM = """
INSERT INTO telegram_ids (meter_key, access_number, digest, first_at)
SELECT * FROM unnest(%s::bigint[], %s::smallint[], %s::bytea[], %s::timestamptz[])
ON CONFLICT DO NOTHING
RETURNING meter_key, access_number, digest
"""
_FIRST = """
SELECT t.meter_key, t.access_number, t.digest, t.first_at, r.total_m3
FROM unnest(%s::bigint[], %s::smallint[], %s::bytea[]) AS k(meter_key, access_number, digest)
JOIN telegram_ids t USING (meter_key, access_number, digest)
LEFT JOIN LATERAL (SELECT total_m3 FROM readings WHERE readings.meter_key = t.meter_key
                   ORDER BY measured_at DESC LIMIT 1) r ON true
"""
_RECLAIM = """
UPDATE telegram_ids t SET first_at = k.first_at
FROM unnest(%s::bigint[], %s::smallint[], %s::bytea[], %s::timestamptz[])
     AS k(meter_key, access_number, digest, first_at)
WHERE (t.meter_key, t.access_number, t.digest) = (k.meter_key, k.access_number, k.digest)
"""

TelegramId = tuple[int, int, bytes]  # (meter_key, access_number, payload digest)


def new_telegrams(cur: psycopg.Cursor, rows: Sequence[tuple[object, ...]],
                  ids: Sequence[TelegramId | None]) -> list[bool]:
    """For each reading row (``storage.writer.READING_COLUMNS``; ``ids`` aligned), whether it is a new reading.

    Must run in the transaction that writes the rows (a rollback forgets the claims with them)."""
    claim = [(i, tid, row) for i, (tid, row) in enumerate(zip(ids, rows, strict=True)) if tid is not None]
    verdict = [True] * len(rows)
    if not claim:
        return verdict
    cur.execute(_CLAIM, _columns([tid for _, tid, _ in claim], [row[1] for _, _, row in claim]))
    claimed = {(int(k), int(a), bytes(d)) for k, a, d in cur.fetchall()}
    held = [(i, tid, row) for i, tid, row in claim if tid not in claimed]
    if not held:
        return verdict
    cur.execute(_FIRST, _columns([tid for _, tid, _ in held]))
    first = {(int(k), int(a), bytes(d)): (at, total) for k, a, d, at, total in cur.fetchall()}
    again: list[tuple[TelegramId, object]] = []
    for i, tid, row in held:
        first_at, latest_total = first.get(tid, (row[1], None))
        repeat = abs(row[1] - first_at) >= COPY_HORIZON and row[3] == latest_total
        verdict[i] = repeat
        if repeat:
            again.append((tid, row[1]))
    if again:
        cur.execute(_RECLAIM, _columns([tid for tid, _ in again], [at for _, at in again]))
    return verdict


def _columns(ids: Sequence[TelegramId], times: Sequence[object] | None = None) -> list[object]:
    cols: list[object] = [[t[0] for t in ids], [t[1] for t in ids], [t[2] for t in ids]]
    return [*cols, list(times)] if times is not None else cols


def write_telegrams(conn: psycopg.Connection, *, reading_rows: Sequence[tuple[object, ...]],
                    telegram_ids: Sequence[TelegramId | None], frame_rows: Sequence[tuple[object, ...]] = (),
                    dead_letters: Sequence[DeadLetter] = (), dedupe_window_s: float = 0.0,
                    strategy: str = "probe") -> tuple[BatchResult, list[tuple[object, ...]]]:
    """:func:`storage.writer.write_rows` of the rows whose telegram is new (:func:`new_telegrams`), in one
    transaction with the claims; ``(result, the reading rows dropped as copies or replays)``."""
    try:
        with conn.transaction():
            with conn.cursor() as cur:
                fresh = new_telegrams(cur, reading_rows, telegram_ids)
            kept = [row for row, new in zip(reading_rows, fresh, strict=True) if new]
            result = write_rows(conn, reading_rows=kept, frame_rows=frame_rows, dead_letters=dead_letters,
                                dedupe_window_s=dedupe_window_s, strategy=strategy)
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown, psycopg.errors.ReadOnlySqlTransaction) as exc:
        raise TransientStorageError(f"write_telegrams: database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"write_telegrams: {exc}") from exc
    return result, [row for row, new in zip(reading_rows, fresh, strict=True) if not new]
