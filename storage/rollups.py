"""Hourly and daily per-meter rollups of ``readings`` on the native backend (TimescaleDB: continuous
aggregates refresh themselves, see :mod:`storage.timescale`).

The ingest merge marks each hour that received readings in ``rollup_dirty``; :func:`refresh_rollups`
recomputes those hours and the local (Europe/Warsaw) days containing them from ``readings``. Claiming dirty
hours with ``FOR UPDATE SKIP LOCKED`` lets several workers refresh concurrently without doing work twice; an
hour that receives more readings while it is being refreshed is marked again by that later commit.
"""

from __future__ import annotations

import psycopg

from storage.timescale import ROLLUP_TZ

_AGG = """
    count(*)::int, (count(*) FILTER (WHERE source <> 3))::int,
    min(measured_at), (array_agg(total_m3 ORDER BY measured_at))[1],
    max(measured_at), (array_agg(total_m3 ORDER BY measured_at DESC))[1],
    max(flow_m3h), bit_or(alarms)
"""

_CLAIM = """
DELETE FROM rollup_dirty WHERE bucket IN (
    SELECT bucket FROM rollup_dirty ORDER BY bucket LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING bucket
"""

_HOURS = f"""
INSERT INTO readings_hourly
SELECT r.meter_key, b.bucket, {_AGG}
  FROM unnest(%(hours)s::timestamptz[]) AS b(bucket)
  JOIN readings r ON r.measured_at >= b.bucket AND r.measured_at < b.bucket + interval '1 hour'
 GROUP BY r.meter_key, b.bucket
"""

_DAYS_OF = f"""
SELECT DISTINCT (date_trunc('day', b AT TIME ZONE '{ROLLUP_TZ}') AT TIME ZONE '{ROLLUP_TZ}')
  FROM unnest(%(hours)s::timestamptz[]) AS b
"""

_DAYS = """
INSERT INTO readings_daily
SELECT h.meter_key, d.bucket, sum(h.readings)::int, sum(h.actual_readings)::int,
       min(h.first_at), (array_agg(h.first_m3 ORDER BY h.first_at))[1],
       max(h.last_at), (array_agg(h.last_m3 ORDER BY h.last_at DESC))[1],
       max(h.max_flow_m3h), bit_or(h.alarms)
  FROM unnest(%(days)s::timestamptz[]) AS d(bucket)
  JOIN readings_hourly h ON h.bucket >= d.bucket AND h.bucket < d.bucket + interval '1 day'
 GROUP BY h.meter_key, d.bucket
"""


def refresh_rollups(conn: psycopg.Connection, *, max_hours: int = 500) -> int:
    """Recompute up to ``max_hours`` dirty hours and their local days in one transaction; return hours done."""
    with conn.transaction():
        hours = sorted(row[0] for row in conn.execute(_CLAIM, {"limit": max_hours}))
        if not hours:
            return 0
        conn.execute("DELETE FROM readings_hourly WHERE bucket = ANY(%(hours)s)", {"hours": hours})
        conn.execute(_HOURS, {"hours": hours})
        days = [row[0] for row in conn.execute(_DAYS_OF, {"hours": hours})]
        conn.execute("DELETE FROM readings_daily WHERE bucket = ANY(%(days)s)", {"days": days})
        conn.execute(_DAYS, {"days": days})
    return len(hours)
