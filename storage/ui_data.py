"""Figures for the dashboard pages: read rate of a billing period, compact map data, pipeline health.

Read rate: a service point is *active* in a period when a meter is installed there during any part of it, and
*read* when one of the meters installed there has

- an **actual** reading (radio, drive-by or manual — not an estimate) inside the period and inside its
  installation, or
- a **meter-stored** value (``meter_stored_values``: the register the meter kept for the end of a local day, the
  read-to-bill basis) dated inside the period, by a meter installed there at the end of that day.

The read-rate rows split the read points into ``actual`` (an actual reading) and ``meter_stored`` (only a
meter-stored value): ``read = actual + meter_stored``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from core.types import SOURCE_CODES, ReadingSource
from storage.rows import FrameStatus
from storage.sql import dict_rows as _rows

ESTIMATED = SOURCE_CODES[ReadingSource.ESTIMATED]
# map-state bits of one service point (a point may carry several; the page colours by the most urgent)
READ, ALERT, LEGAL_DUE, LEGAL_EXPIRED, NO_METER = 1, 2, 4, 8, 16

_OVERLAP = "i.installed_at < %(end)s AND (i.removed_at IS NULL OR i.removed_at > %(start)s)"


def read_service_points(conn: psycopg.Connection, *, start: datetime, end: datetime) -> set[str]:
    """Service points with an actual reading in ``[start, end)`` by a meter installed there at the time.

    The constant range comes first so only the period's partitions (chunks) and their ``measured_at`` index
    are read; its cost grows with the readings in the period (the API caches the answer briefly)."""
    sql = f"""SELECT DISTINCT i.service_point_id FROM installations i
      WHERE {_OVERLAP} AND EXISTS (
        SELECT 1 FROM readings r WHERE r.meter_key = i.meter_key
           AND r.measured_at >= %(start)s AND r.measured_at < %(end)s
           AND r.measured_at >= i.installed_at AND (i.removed_at IS NULL OR r.measured_at < i.removed_at)
           AND r.source <> {ESTIMATED})"""
    return {r[0] for r in conn.execute(sql, {"start": start, "end": end}).fetchall()}


def stored_service_points(conn: psycopg.Connection, *, start: datetime, end: datetime, zone: str) -> set[str]:
    """Service points with a meter-stored value dated in the local days of ``[start, end)`` (``zone``) by a
    meter installed there at the end of that day."""
    tz = ZoneInfo(zone)
    sql = """SELECT DISTINCT i.service_point_id FROM meter_stored_values v
               JOIN installations i ON i.meter_key = v.meter_key
              WHERE v.stored_date >= %(d0)s AND v.stored_date < %(d1)s
                AND i.installed_at < ((v.stored_date + 1)::timestamp AT TIME ZONE %(tz)s)
                AND (i.removed_at IS NULL OR i.removed_at >= ((v.stored_date + 1)::timestamp AT TIME ZONE %(tz)s))"""
    params = {"d0": start.astimezone(tz).date(), "d1": end.astimezone(tz).date(), "tz": zone}
    return {r[0] for r in conn.execute(sql, params).fetchall()}


def active_service_points(conn: psycopg.Connection, *, start: datetime, end: datetime) -> list[tuple[str, str, str]]:
    """``(service point, area or '', read mode)`` of every point with a meter installed during the period
    (the newest installation's meter decides the read mode)."""
    sql = f"""SELECT DISTINCT ON (i.service_point_id) i.service_point_id, coalesce(sp.area, ''), m.read_mode
                FROM installations i JOIN service_points sp ON sp.id = i.service_point_id
                JOIN meters m ON m.meter_key = i.meter_key
               WHERE {_OVERLAP} ORDER BY i.service_point_id, i.installed_at DESC"""
    return [(r[0], r[1], r[2]) for r in conn.execute(sql, {"start": start, "end": end}).fetchall()]


def read_rate(conn: psycopg.Connection, *, start: datetime, end: datetime, actual: set[str],
              stored: set[str]) -> list[dict[str, Any]]:
    """Active and read service points in ``[start, end)`` per area and read mode (``area`` '' when unset):
    ``actual`` (:func:`read_service_points`) and ``meter_stored`` (in ``stored``, :func:`stored_service_points`,
    and not in ``actual``); ``read`` is their sum."""
    acc: dict[tuple[str, str], list[int]] = {}
    for sp, area, mode in active_service_points(conn, start=start, end=end):
        cell = acc.setdefault((area, mode), [0, 0, 0])
        cell[0] += 1
        cell[1] += sp in actual
        cell[2] += sp not in actual and sp in stored
    return [{"area": a, "read_mode": m, "active": n, "read": x + y, "actual": x, "meter_stored": y}
            for (a, m), (n, x, y) in sorted(acc.items())]


def map_static(conn: psycopg.Connection, *, at: datetime, today: date,
               due_days: int = 90) -> list[tuple[str, float, float, str, int]]:
    """Every service point with a position: ``(id, lat, lon, area or '', bits)`` where the bits are those that
    change slowly — ``LEGAL_DUE`` (within ``due_days``), ``LEGAL_EXPIRED``, ``NO_METER`` (nothing installed at
    ``at``); the caller adds ``READ`` and ``ALERT``."""
    sql = f"""WITH cur AS (
        SELECT DISTINCT ON (i.service_point_id) i.service_point_id, m.legal_valid_until
          FROM installations i JOIN meters m ON m.meter_key = i.meter_key
         WHERE i.installed_at <= %(at)s AND (i.removed_at IS NULL OR i.removed_at > %(at)s)
         ORDER BY i.service_point_id, i.installed_at DESC)
    SELECT sp.id, round(sp.lat::numeric, 6)::float8, round(sp.lon::numeric, 6)::float8, coalesce(sp.area, ''),
           (CASE WHEN c.legal_valid_until < %(today)s THEN {LEGAL_EXPIRED}
                 WHEN c.legal_valid_until < %(due)s THEN {LEGAL_DUE} ELSE 0 END)
         | (CASE WHEN c.service_point_id IS NULL THEN {NO_METER} ELSE 0 END)
      FROM service_points sp LEFT JOIN cur c ON c.service_point_id = sp.id
     WHERE sp.lat IS NOT NULL AND sp.lon IS NOT NULL ORDER BY sp.id"""
    params = {"at": at, "today": today, "due": today + timedelta(days=due_days)}
    return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(sql, params).fetchall()]


def alerting_service_points(conn: psycopg.Connection) -> set[str]:
    """Service points with an unresolved (open or acknowledged) alert."""
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT service_point_id FROM alerts WHERE state IN ('open', 'acknowledged') "
        "AND service_point_id IS NOT NULL").fetchall()}


def gateway_coverage(conn: psycopg.Connection, *, since: datetime) -> list[dict[str, Any]]:
    """Each gateway's position, state, how many distinct meters it heard since ``since`` and its coverage: the
    convex hull (``coverage``, ``[lat, lon]`` vertices counter-clockwise) of its own position and the positions
    of the service points where the heard meters were installed when heard (``coverage_points`` of them)."""
    sql = """SELECT g.id, g.state, g.lat, g.lon, g.frames_per_min, g.spool_depth, g.last_seen_at,
                    coalesce(h.meters, 0) AS meters_heard
               FROM gateways g LEFT JOIN (
                 SELECT r.gw, count(DISTINCT f.meter_key) AS meters
                   FROM raw_frames f CROSS JOIN LATERAL unnest(f.gateways) AS r(gw)
                  WHERE f.received_at >= %(since)s AND f.meter_key IS NOT NULL GROUP BY r.gw) h ON h.gw = g.id
              ORDER BY g.id"""
    rows = _rows(conn, sql, {"since": since})
    heard: dict[str, list[tuple[float, float]]] = {}
    for gw, lat, lon in conn.execute(
            """WITH h AS (SELECT r.gw, f.meter_key, max(f.received_at) AS at
                            FROM raw_frames f CROSS JOIN LATERAL unnest(f.gateways) AS r(gw)
                           WHERE f.received_at >= %(since)s AND f.meter_key IS NOT NULL GROUP BY 1, 2)
               SELECT DISTINCT h.gw, round(sp.lat::numeric, 6)::float8, round(sp.lon::numeric, 6)::float8 FROM h
                 JOIN installations i ON i.meter_key = h.meter_key AND i.installed_at <= h.at
                                     AND (i.removed_at IS NULL OR i.removed_at > h.at)
                 JOIN service_points sp ON sp.id = i.service_point_id
                WHERE sp.lat IS NOT NULL AND sp.lon IS NOT NULL""", {"since": since}).fetchall():
        heard.setdefault(gw, []).append((float(lat), float(lon)))
    for r in rows:
        points = heard.get(r["id"], [])
        r["coverage_points"] = len(points)
        own = [(float(r["lat"]), float(r["lon"]))] if r["lat"] is not None and r["lon"] is not None else []
        r["coverage"] = [list(p) for p in convex_hull(points + own)] if points else []
    return rows


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of ``(lat, lon)`` points, counter-clockwise in (lon, lat) from the lowest-left vertex,
    without collinear vertices (Andrew's monotone chain). In a town-sized area the hull in degrees is the hull on
    the map: a local equirectangular projection is affine, and affine maps keep convexity."""
    pts = sorted({(lon, lat) for lat, lon in points})
    if len(pts) <= 2:
        return [(lat, lon) for lon, lat in pts]

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for chain, seq in ((lower, pts), (upper, pts[::-1])):
        for p in seq:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
    return [(lat, lon) for lon, lat in lower[:-1] + upper[:-1]]


def pipeline_health(conn: psycopg.Connection, *, now: datetime, minutes: int = 60) -> dict[str, Any]:
    """Frames per minute over the last ``minutes`` (one bucket a minute), undecoded frames of the last 24 h by
    status and error, dead letters by reason, and the newest reading's age (ingest lag)."""
    since = now - timedelta(minutes=minutes)
    series = conn.execute(  # every minute of the window, 0 when no frame arrived
        """WITH n AS (SELECT date_trunc('minute', received_at) AS m, count(*) AS c FROM raw_frames
                       WHERE received_at >= %(since)s AND received_at <= %(now)s GROUP BY 1)
           SELECT extract(epoch FROM g.m)::bigint, coalesce(n.c, 0)
             FROM generate_series(date_trunc('minute', %(since)s::timestamptz), %(now)s, interval '1 minute') g(m)
             LEFT JOIN n ON n.m = g.m ORDER BY 1""",
        {"since": since, "now": now}).fetchall()
    names = {s.value: s.name.lower() for s in FrameStatus}
    errors = [{"status": names.get(int(r[0]), str(r[0])), "reason": r[1], "frames": int(r[2])}
              for r in conn.execute(
                  """SELECT status, coalesce(left(error, 120), ''), count(*) FROM raw_frames
                      WHERE status <> 0 AND received_at >= %s GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 50""",
                  (now - timedelta(hours=24),)).fetchall()]
    dead = _rows(conn, """SELECT reason, count(*) AS messages, sum(count)::bigint AS deliveries,
                                 max(last_seen) AS last_seen FROM dead_letters GROUP BY 1 ORDER BY 2 DESC""")
    lag = conn.execute("SELECT extract(epoch FROM %s - max(received_at))::float8 FROM readings", (now,)).fetchone()
    return {"frames_per_minute": [[int(t), int(n)] for t, n in series], "decode_errors": errors,
            "dead_letters": dead, "lag_s": lag[0] if lag else None}
