"""Operations-dashboard figures: how many meters are heard, how fresh the data is, what failed.

Frames that were not decoded are split by why: a registered meter whose key is missing or wrong (awaiting a
key), a meter that is not in the registry at all (a candidate to register, listed by
:func:`unknown_meters` with manufacturer and id), or a decoder failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.ids import split_meter_key
from storage.rows import FrameStatus


@dataclass(frozen=True, slots=True)
class PipelineSummary:
    """One snapshot of the pipeline's health as the database sees it."""

    meters: int
    meters_heard_24h: int
    readings_total: int
    readings_24h: int
    frames_undecoded: int  # every frame not decoded (the three below)
    frames_awaiting_key: int  # registered meters whose key is missing or wrong
    frames_unknown_meters: int  # meters not in the registry
    unknown_meters_heard: int  # distinct unregistered meters heard (candidates to register)
    frames_decode_errors: int
    dead_letters: int
    gateways: int  # in the registry (status topic)
    gateways_online: int
    last_received_at: datetime | None
    last_committed_lag_s: float | None


# A reading is measured when its frame is first heard (manual readings excepted), so bounding measured_at lets
# the server prune partitions/chunks and use the time index instead of reading every row of a billion-row table.
_LAST_24H = "measured_at > now() - interval '24 hours' AND received_at > now() - interval '24 hours'"
_EXACT_BELOW = 1_000_000  # rows: counted exactly below this estimate, estimated above (count(*) scans them all)

_SQL = f"""
WITH undecoded AS (
  SELECT status, count(*) AS n, count(DISTINCT coalesce(meter_key, link_key)) AS meters
    FROM raw_frames WHERE status <> 0 GROUP BY status
)
SELECT
  (SELECT count(*) FROM meters),
  (SELECT count(DISTINCT meter_key) FROM readings WHERE {_LAST_24H}),
  0,  -- readings_total: read by _readings_total (exact when small, the planner's estimate when large)
  (SELECT count(*) FROM readings WHERE {_LAST_24H}),
  (SELECT coalesce(sum(n), 0) FROM undecoded),
  (SELECT coalesce(sum(n), 0) FROM undecoded
    WHERE status IN ({FrameStatus.KEY_MISSING.value}, {FrameStatus.WRONG_KEY.value})),
  (SELECT coalesce(sum(n), 0) FROM undecoded WHERE status = {FrameStatus.UNKNOWN_METER.value}),
  (SELECT coalesce(sum(meters), 0) FROM undecoded WHERE status = {FrameStatus.UNKNOWN_METER.value}),
  (SELECT coalesce(sum(n), 0) FROM undecoded WHERE status = {FrameStatus.DECODE_ERROR.value}),
  (SELECT coalesce(sum(count), 0) FROM dead_letters),
  (SELECT count(*) FROM gateways),
  (SELECT count(*) FROM gateways WHERE state = 'online'),
  (SELECT max(received_at) FROM readings WHERE measured_at > now() - interval '2 days')
"""


def pipeline_summary(conn: psycopg.Connection) -> PipelineSummary:
    """Counts and freshness of what the pipeline stored."""
    row = conn.execute(_SQL).fetchone()
    assert row is not None
    n = [int(v) for v in row[:12]]
    last = row[12]
    if last is None:  # nothing in two days: the one time the whole table is asked
        last = conn.execute("SELECT max(received_at) FROM readings").fetchone()[0]  # type: ignore[index]
    now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    return PipelineSummary(
        meters=n[0], meters_heard_24h=n[1], readings_total=_readings_total(conn), readings_24h=n[3],
        frames_undecoded=n[4], frames_awaiting_key=n[5], frames_unknown_meters=n[6], unknown_meters_heard=n[7],
        frames_decode_errors=n[8], dead_letters=n[9], gateways=n[10], gateways_online=n[11], last_received_at=last,
        last_committed_lag_s=(now - last).total_seconds() if last is not None else None,
    )


def _readings_total(conn: psycopg.Connection) -> int:
    """Readings stored: exact below :data:`_EXACT_BELOW`, else the planner's estimate (TimescaleDB's
    ``approximate_row_count`` counts compressed chunks too; native partitions sum ``reltuples``)."""
    native = conn.execute("SELECT to_regclass('rollup_dirty') IS NOT NULL").fetchone()[0]  # type: ignore[index]
    if native:
        estimate = conn.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c WHERE c.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'readings'::regclass)").fetchone()[0]  # type: ignore[index]
    else:
        estimate = conn.execute("SELECT approximate_row_count('readings')").fetchone()[0]  # type: ignore[index]
    if estimate is None or estimate < _EXACT_BELOW:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])  # type: ignore[index]
    return int(estimate)


def unknown_meters(
    conn: psycopg.Connection, *, now: datetime, days: float = 30.0, limit: int = 1000,
    after: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Meters heard in the last ``days`` that are not in the registry, most frames first: manufacturer and id
    (what the radio sent), frames, first/last heard, strongest RSSI and the gateways that heard them.
    ``after`` is the keyset position ``(frames, meter_key)`` of the previous page's last row."""
    sql = f"""SELECT * FROM (
        SELECT coalesce(f.meter_key, f.link_key) AS meter_key, count(DISTINCT f.frame_digest) AS frames,
               count(*) AS receptions,
               min(f.received_at) AS first_heard_at, max(f.received_at) AS last_heard_at,
               max(r.rssi) AS best_rssi_dbm, array_agg(DISTINCT r.gw ORDER BY r.gw) AS gateways
          FROM raw_frames f CROSS JOIN LATERAL unnest(f.gateways, f.rssi_dbm) AS r(gw, rssi)
         WHERE f.status = {FrameStatus.UNKNOWN_METER.value} AND f.received_at >= %(since)s
           AND coalesce(f.meter_key, f.link_key) IS NOT NULL
         GROUP BY 1) u
         WHERE %(a_frames)s::bigint IS NULL OR u.frames < %(a_frames)s
               OR (u.frames = %(a_frames)s AND u.meter_key > %(a_key)s)
         ORDER BY u.frames DESC, u.meter_key LIMIT %(limit)s"""
    a_frames, a_key = after if after is not None else (None, None)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = list(cur.execute(sql, {"since": now - timedelta(days=days), "limit": limit, "a_frames": a_frames,
                                      "a_key": a_key}).fetchall())
    for r in rows:
        r["manufacturer"], r["meter_id"] = split_meter_key(r["meter_key"])
    return rows
