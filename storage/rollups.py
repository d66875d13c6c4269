"""Hourly and daily per-meter rollups of ``readings`` on the native backend (TimescaleDB: continuous
aggregates refresh themselves, see :mod:`storage.timescale`).

The ingest merge marks each hour that received readings in ``rollup_dirty``; :func:`refresh_rollups`
recomputes those hours and the local (Europe/Warsaw) days containing them from ``readings``. Claiming dirty
hours with ``FOR UPDATE SKIP LOCKED`` lets several workers refresh concurrently without doing work twice; an
hour that receives more readings while it is being refreshed is marked again by that later commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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

# One pass over the readings between the first and the last dirty hour (the partitions prune to that range;
# readings' key leads with the meter, so joining hour by hour scanned the month's partition once per hour).
_HOURS = f"""
INSERT INTO readings_hourly
SELECT r.meter_key, date_bin('1 hour', r.measured_at, '2000-01-01 00:00+00') AS bucket, {_AGG}
  FROM readings r
 WHERE r.measured_at >= %(lo)s AND r.measured_at < %(hi)s
   AND date_bin('1 hour', r.measured_at, '2000-01-01 00:00+00') = ANY(%(hours)s::timestamptz[])
 GROUP BY 1, 2
"""

_DAYS_OF = f"""
SELECT DISTINCT (date_trunc('day', b AT TIME ZONE '{ROLLUP_TZ}') AT TIME ZONE '{ROLLUP_TZ}')
  FROM unnest(%(hours)s::timestamptz[]) AS b
"""

_DAYS = f"""
INSERT INTO readings_daily
SELECT h.meter_key, d.bucket, sum(h.readings)::int, sum(h.actual_readings)::int,
       min(h.first_at), (array_agg(h.first_m3 ORDER BY h.first_at))[1],
       max(h.last_at), (array_agg(h.last_m3 ORDER BY h.last_at DESC))[1],
       max(h.max_flow_m3h), bit_or(h.alarms)
  FROM unnest(%(days)s::timestamptz[]) AS d(bucket)
  JOIN readings_hourly h
    ON h.bucket >= d.bucket
   AND h.bucket < ((d.bucket AT TIME ZONE '{ROLLUP_TZ}') + interval '1 day') AT TIME ZONE '{ROLLUP_TZ}'
 GROUP BY h.meter_key, d.bucket
"""


def refresh_rollups(conn: psycopg.Connection, *, max_hours: int = 500) -> int:
    """Recompute up to ``max_hours`` dirty hours and their local days in one transaction; return hours done."""
    with conn.transaction():
        hours = sorted(row[0] for row in conn.execute(_CLAIM, {"limit": max_hours}))
        if not hours:
            return 0
        conn.execute("DELETE FROM readings_hourly WHERE bucket = ANY(%(hours)s)", {"hours": hours})
        conn.execute(_HOURS, {"hours": hours, "lo": hours[0], "hi": hours[-1] + timedelta(hours=1)})
        days = [row[0] for row in conn.execute(_DAYS_OF, {"hours": hours})]
        conn.execute("DELETE FROM readings_daily WHERE bucket = ANY(%(days)s)", {"days": days})
        conn.execute(_DAYS, {"days": days})
    return len(hours)


@dataclass(frozen=True, slots=True)
class DaySummary:
    """The fleet on one local day, from the daily rollup."""

    day: datetime
    meters: int
    readings: int
    actual_readings: int
    consumption_m3: float


_DAILY_SUMMARY = """
SELECT bucket, count(*)::int, sum(readings)::bigint, sum(actual_readings)::bigint, coalesce(sum(used), 0)
  FROM (SELECT bucket, readings, actual_readings,
               last_m3 - coalesce(lag(last_m3) OVER (PARTITION BY meter_key ORDER BY bucket), first_m3) AS used
          FROM readings_daily WHERE bucket >= %(lo)s - interval '1 day' AND bucket < %(hi)s) d
 WHERE bucket >= %(lo)s
 GROUP BY bucket ORDER BY bucket
"""


def daily_summary(conn: psycopg.Connection, *, start: datetime, end: datetime) -> list[DaySummary]:
    """Per local (Europe/Warsaw) day in ``[start, end)``: meters heard, readings (actual ones), and the fleet's
    consumption (each meter's last register value of the day minus that of its previous day).

    Reads the daily rollup only — a continuous aggregate with real-time aggregation on TimescaleDB, a table
    refreshed by :func:`refresh_rollups` on the native backend — never the readings of the month.
    """
    rows = conn.execute(_DAILY_SUMMARY, {"lo": _local_midnight(start), "hi": end}).fetchall()
    return [DaySummary(day=r[0], meters=int(r[1]), readings=int(r[2]), actual_readings=int(r[3]),
                       consumption_m3=float(r[4])) for r in rows]


def _local_midnight(t: datetime) -> datetime:
    local = t.astimezone(ZoneInfo(ROLLUP_TZ))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
