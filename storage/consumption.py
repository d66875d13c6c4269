"""Consumption per period from register readings, continuous across meter replacements.

A service point's history is a list of installation segments (meter, installed/removed time, the initial
and final register values of the replacement protocol). For every period boundary ``t`` the register value of
each segment's meter is taken at ``t`` clamped into the segment:

* at the installation time: ``initial_m3``; at the removal time: ``final_m3`` when recorded;
* otherwise linear interpolation between the last reading at or before ``t`` and the first reading at or
  after it (flat extrapolation at the ends).

A period's consumption is the sum over segments of value(end) − value(start), so a replacement inside a
period adds the old meter's tail and the new meter's head. A period is **estimated** when any value it uses
was interpolated across a gap longer than ``max_gap``, extrapolated further than ``max_gap``, or comes from a
reading whose source is ``estimated``; otherwise it is **actual**.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

ESTIMATED_SOURCE = 3
INTERVALS = ("hour", "day", "week", "month")


@dataclass(frozen=True, slots=True)
class ConsumptionPeriod:
    """Consumption in ``[start, end)``; ``consumption_m3`` is None when nothing is known about the period."""

    start: datetime
    end: datetime
    consumption_m3: float | None
    estimated: bool
    actual_m3: float
    estimated_m3: float


@dataclass(frozen=True, slots=True)
class Segment:
    """One meter's time at a service point (unbounded when ``installed_at``/``removed_at`` is None)."""

    meter_key: int
    installed_at: datetime | None
    removed_at: datetime | None
    initial_m3: float | None
    final_m3: float | None


@dataclass(frozen=True, slots=True)
class Value:
    """A register value at one instant and whether it is estimated."""

    m3: float
    estimated: bool


def _next_boundary(t: datetime, interval: str) -> datetime:
    if interval == "hour":
        return t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if interval == "day":
        nxt = day + timedelta(days=1)
    elif interval == "week":
        nxt = day + timedelta(days=7 - day.weekday())
    else:
        nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return nxt.replace(tzinfo=t.tzinfo)


def period_bounds(start: datetime, end: datetime, interval: str, zone: ZoneInfo,
                  max_periods: int | None = None) -> list[datetime]:
    """``start``, every local ``interval`` boundary strictly inside, ``end`` (all UTC).

    With ``max_periods`` the list stops after that many periods: its last element is then the boundary where
    the next page of periods starts (or ``end`` when fewer periods remain).
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if end <= start:
        raise ValueError("end must be after start")
    bounds = [start.astimezone(UTC)]
    if interval == "hour":  # hours are cut in UTC: local wall-clock hours repeat and vanish at DST changes
        zone = ZoneInfo("UTC")
    local = start.astimezone(zone)
    while True:
        nxt = _next_boundary(local, interval)
        nxt_utc = datetime(nxt.year, nxt.month, nxt.day, nxt.hour, tzinfo=zone).astimezone(UTC)
        if nxt_utc >= end:
            break
        bounds.append(nxt_utc)
        if max_periods is not None and len(bounds) > max_periods:
            return bounds
        local = nxt_utc.astimezone(zone)
    bounds.append(end.astimezone(UTC))
    return bounds


_AROUND = """
SELECT b.t, p.measured_at, p.total_m3, p.source, n.measured_at, n.total_m3, n.source
  FROM unnest(%(ts)s::timestamptz[]) AS b(t)
  LEFT JOIN LATERAL (SELECT measured_at, total_m3, source FROM readings
                      WHERE meter_key = %(k)s AND measured_at <= b.t
                        AND measured_at >= greatest(%(lo)s::timestamptz, b.t - %(near)s::interval)
                        AND total_m3 IS NOT NULL ORDER BY measured_at DESC LIMIT 1) p ON true
  LEFT JOIN LATERAL (SELECT measured_at, total_m3, source FROM readings
                      WHERE meter_key = %(k)s AND measured_at >= b.t
                        AND measured_at <= least(%(hi)s::timestamptz, b.t + %(near)s::interval)
                        AND total_m3 IS NOT NULL ORDER BY measured_at LIMIT 1) n ON true
"""
_ENDS = """
SELECT f.measured_at, f.total_m3, f.source, l.measured_at, l.total_m3, l.source
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (SELECT measured_at, total_m3, source FROM readings
                      WHERE meter_key = %(k)s AND measured_at >= %(lo)s AND measured_at <= %(hi)s
                        AND total_m3 IS NOT NULL ORDER BY measured_at LIMIT 1) f ON true
  LEFT JOIN LATERAL (SELECT measured_at, total_m3, source FROM readings
                      WHERE meter_key = %(k)s AND measured_at >= %(lo)s AND measured_at <= %(hi)s
                        AND total_m3 IS NOT NULL ORDER BY measured_at DESC LIMIT 1) l ON true
"""
# One row of three arrays (times as integer µs since the epoch): a year of hourly readings loads several times
# faster than as 8,760 rows, and only the neighbours found become datetimes.
_RANGE = """
SELECT coalesce(array_agg((extract(epoch FROM measured_at) * 1000000)::bigint ORDER BY measured_at), '{}'),
       coalesce(array_agg(total_m3 ORDER BY measured_at), '{}'), coalesce(array_agg(source ORDER BY measured_at), '{}')
  FROM readings
 WHERE meter_key = %(k)s AND measured_at >= %(lo)s AND measured_at <= %(hi)s AND total_m3 IS NOT NULL
"""
_US = timedelta(microseconds=1)
# Up to this span the readings around the boundaries are read in one range scan and the neighbours found by
# bisection (one index probe per boundary cost 0.1–0.2 ms on a chunked table); longer spans are probed.
_BULK_SPAN = timedelta(days=400)
# The first probe looks this far around each boundary: with hourly readings it always finds both neighbours,
# and the bounded range lets PostgreSQL prune the readings partitions per probe (5× faster over a year).
_NEAR = timedelta(days=7)
_WIDE = timedelta(days=200 * 366)
_FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _interpolate(t: datetime, row: tuple, max_gap: timedelta) -> Value | None:  # type: ignore[type-arg]
    _, p_at, p_m3, p_src, n_at, n_m3, n_src = row
    if p_at is None and n_at is None:
        return None
    if p_at is None or n_at is None:
        at, m3, src = (p_at, p_m3, p_src) if n_at is None else (n_at, n_m3, n_src)
        return Value(m3, abs(t - at) > max_gap or src == ESTIMATED_SOURCE)
    estimated = ESTIMATED_SOURCE in (p_src, n_src) if p_at != n_at else p_src == ESTIMATED_SOURCE
    if p_at == n_at:
        return Value(p_m3, estimated)
    share = (t - p_at) / (n_at - p_at)
    return Value(p_m3 + (n_m3 - p_m3) * share, estimated or (n_at - p_at) > max_gap)


def _clamp(t: datetime, seg: Segment) -> datetime:
    if seg.installed_at is not None and t < seg.installed_at:
        return seg.installed_at
    if seg.removed_at is not None and t > seg.removed_at:
        return seg.removed_at
    return t


def _neighbours(conn: psycopg.Connection, params: dict[str, Any]) -> dict[datetime, tuple[Any, ...]]:
    """For every time in ``params["ts"]``: (t, last reading at or before it, first at or after it) in the segment.

    Times before the segment's first reading or after its last need no probe; the rest are probed within
    :data:`_NEAR` first and, where a neighbour is further away, over the whole segment.
    """
    ends = conn.execute(_ENDS, params).fetchone()
    none = (None, None, None)
    if ends is None or ends[0] is None:
        return {t: (t, *none, *none) for t in params["ts"]}
    first, last = tuple(ends[:3]), tuple(ends[3:])
    out: dict[datetime, tuple[Any, ...]] = {}
    inside = []
    for t in params["ts"]:
        if t < first[0]:
            out[t] = (t, *none, *first)
        elif t > last[0]:
            out[t] = (t, *last, *none)
        else:
            inside.append(t)
    if inside and inside[-1] - inside[0] <= _BULK_SPAN:
        inside = _bisect_neighbours(conn, params, inside, out)
    for near in (_NEAR, _WIDE):
        if not inside:
            break
        rows = conn.execute(_AROUND, {**params, "ts": inside, "near": near}).fetchall()
        inside = [row[0] for row in rows if row[1] is None or row[4] is None]
        out.update((row[0], row) for row in rows if near is _WIDE or (row[1] is not None and row[4] is not None))
    return out


def _bisect_neighbours(conn: psycopg.Connection, params: dict[str, Any], ts: list[datetime],
                       out: dict[datetime, tuple[Any, ...]]) -> list[datetime]:
    """Neighbours of the sorted ``ts`` from one range scan (into ``out``); returns the times left unresolved."""
    lo, hi = max(params["lo"], ts[0] - _NEAR), min(params["hi"], ts[-1] + _NEAR)
    row = conn.execute(_RANGE, {"k": params["k"], "lo": lo, "hi": hi}).fetchone()
    times, m3, src = row if row is not None else ([], [], [])

    def reading(i: int) -> tuple[datetime, float, int]:
        return _FAR_PAST + times[i] * _US, m3[i], src[i]

    rest = []
    for t in ts:
        us = (t - _FAR_PAST) // _US
        before, after = bisect_right(times, us), bisect_left(times, us)
        if before > 0 and after < len(times):
            out[t] = (t, *reading(before - 1), *reading(after))
        else:
            rest.append(t)
    return rest


def segment_values(conn: psycopg.Connection, seg: Segment, bounds: list[datetime],
                   max_gap: timedelta) -> list[tuple[datetime, Value | None]]:
    """The segment's clamped time and register value at every boundary."""
    clamped = [_clamp(t, seg) for t in bounds]
    params = {"ts": sorted(set(clamped)), "k": seg.meter_key, "lo": seg.installed_at or _FAR_PAST,
              "hi": seg.removed_at or _FAR_FUTURE}
    found = _neighbours(conn, params)
    out: list[tuple[datetime, Value | None]] = []
    for t in clamped:
        if seg.installed_at is not None and t == seg.installed_at and seg.initial_m3 is not None:
            out.append((t, Value(seg.initial_m3, False)))
        elif seg.removed_at is not None and t == seg.removed_at and seg.final_m3 is not None:
            out.append((t, Value(seg.final_m3, False)))
        else:
            out.append((t, _interpolate(t, found[t], max_gap)))
    return out


def sum_periods(bounds: list[datetime],
                per_segment: list[list[tuple[datetime, Value | None]]]) -> list[ConsumptionPeriod]:
    """Add up the segments' value differences per period."""
    out = []
    for i in range(len(bounds) - 1):
        total, estimated, known = 0.0, False, False
        for values in per_segment:
            (t0, v0), (t1, v1) = values[i], values[i + 1]
            if t0 == t1:
                continue  # the segment does not overlap this period
            if v0 is None or v1 is None:
                estimated = True
                continue
            total += v1.m3 - v0.m3
            estimated = estimated or v0.estimated or v1.estimated
            known = True
        value = total if known else None
        out.append(ConsumptionPeriod(bounds[i], bounds[i + 1], value, estimated or value is None,
                                     0.0 if estimated or value is None else value,
                                     value if estimated and value is not None else 0.0))
    return out
