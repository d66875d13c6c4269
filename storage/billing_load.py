"""Loading what a billing run needs: installations of the selected service points, each meter's samples
(radio readings with staff edits applied, accepted manual readings, meter-stored registers) and tariffs.

Radio readings are thinned to the last one of each local (Europe/Warsaw) day: that is exactly the last value
before each local midnight cut-off, and enough for average-daily-consumption estimates. A staff edit applies to
the reading it names when that reading is the last of its day (the one a cut-off can use).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from core.billing_rules import MeterSpan, Sample, day_start

_PRIORITY = {"edited": 0, "manual:staff": 1, "manual:crew": 1, "manual:customer": 2, "actual": 3,
             "meter_stored": 4}

_SPANS = """
SELECT i.service_point_id, i.meter_key, m.manufacturer, m.meter_id, i.installed_at, i.removed_at,
       i.initial_m3, i.final_m3, m.q3_m3h, m.legal_valid_until, p.persons
  FROM installations i JOIN meters m USING (meter_key)
  LEFT JOIN service_point_persons p ON p.service_point_id = i.service_point_id
 WHERE i.service_point_id = ANY(%(sps)s) AND i.installed_at < %(end)s
   AND (i.removed_at IS NULL OR i.removed_at > %(start)s)
 ORDER BY i.service_point_id, i.installed_at
"""
_RADIO = """
WITH last AS (
    SELECT DISTINCT ON (meter_key, (measured_at AT TIME ZONE 'Europe/Warsaw')::date)
           meter_key, measured_at, access_number, received_at, total_m3, backward_m3
      FROM readings
     WHERE meter_key = ANY(%(keys)s) AND measured_at >= %(lo)s AND measured_at < %(hi)s AND total_m3 IS NOT NULL
     ORDER BY meter_key, (measured_at AT TIME ZONE 'Europe/Warsaw')::date, measured_at DESC)
SELECT l.meter_key, l.measured_at, l.received_at, COALESCE(e.value_m3, l.total_m3), l.backward_m3, e.action
  FROM last l
  LEFT JOIN LATERAL (SELECT action, value_m3 FROM reading_edits x
                      WHERE x.meter_key = l.meter_key AND x.measured_at = l.measured_at
                        AND x.access_number = l.access_number ORDER BY x.id DESC LIMIT 1) e ON true
 ORDER BY l.meter_key, l.measured_at
"""
_MANUAL = """
SELECT meter_key, taken_at, value_m3, source FROM manual_readings
 WHERE meter_key = ANY(%(keys)s) AND status = 'accepted' AND taken_at >= %(lo)s AND taken_at < %(hi)s
"""
_STORED = """
SELECT meter_key, stored_date, value_m3, received_at FROM meter_stored_values
 WHERE meter_key = ANY(%(keys)s) AND stored_date >= %(lo)s::date - 1 AND stored_date < %(hi)s::date
"""


def select_service_points(conn: psycopg.Connection, selection: dict[str, Any]) -> list[str]:
    """Service point ids of a selection ``{"all": true}``, ``{"area": …}`` or ``{"service_points": […]}``."""
    if selection.get("service_points") is not None:
        rows = conn.execute("SELECT id FROM service_points WHERE id = ANY(%s) ORDER BY id",
                            (list(selection["service_points"]),)).fetchall()
    elif selection.get("area") is not None:
        rows = conn.execute("SELECT id FROM service_points WHERE area = %s ORDER BY id",
                            (selection["area"],)).fetchall()
    else:
        rows = conn.execute("SELECT id FROM service_points ORDER BY id").fetchall()
    return [r[0] for r in rows]


def tariff_changes(conn: psycopg.Connection) -> list[tuple[date, str]]:
    """Every row of the ``tariffs`` table as (first day, name)."""
    return [(r[0], r[1]) for r in conn.execute("SELECT valid_from, name FROM tariffs ORDER BY valid_from")]


def load_spans(conn: psycopg.Connection, service_points: Sequence[str], first: date, last: date,
               history_days: int) -> Iterator[tuple[str, list[MeterSpan], float | None]]:
    """(service point, its meter spans with samples, persons) for each service point, in id order."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    rows = conn.execute(_SPANS, {"sps": list(service_points), "start": start, "end": end}).fetchall()
    keys = sorted({r[1] for r in rows})
    lo, hi = start - timedelta(days=history_days), end + timedelta(days=70)
    samples = _samples(conn, keys, lo, hi)
    by_sp: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_sp[r[0]].append(r)
    for sp in service_points:
        spans = [MeterSpan(meter=f"{r[2].strip()}-{r[3].strip()}", installed_at=r[4], removed_at=r[5],
                           initial_m3=r[6], final_m3=r[7], q3_m3h=r[8], legal_valid_until=r[9],
                           samples=tuple(samples.get(r[1], ())))
                 for r in by_sp.get(sp, [])]
        persons = by_sp[sp][0][10] if by_sp.get(sp) else None
        yield sp, spans, persons


def _samples(conn: psycopg.Connection, keys: list[int], lo: datetime,
             hi: datetime) -> dict[int, list[Sample]]:
    out: dict[int, list[Sample]] = defaultdict(list)
    if not keys:
        return out
    args = {"keys": keys, "lo": lo, "hi": hi}
    with conn.cursor() as cur:
        for key, at, rec, value, back, edit in cur.execute(_RADIO, args):
            basis = "edited" if edit == "replace" else "actual"
            out[key].append(Sample(at, value, basis, rec, back, confirmed=edit is not None))
        for key, at, value, source in cur.execute(_MANUAL, args):
            out[key].append(Sample(at, value, f"manual:{source}", confirmed=True))  # accepted: verified
        for key, day, value, _rec in cur.execute(_STORED, args):
            out[key].append(Sample(day_start(day + timedelta(days=1)), value, "meter_stored", None))
    for key, rows in out.items():
        rows.sort(key=lambda s: (s.at, _PRIORITY.get(s.basis, 9)))
        out[key] = [s for i, s in enumerate(rows) if i == 0 or rows[i - 1].at != s.at]
    return out
