"""Read functions used by the API: readings of a meter, billing cut-offs, consumption per period, meters.

Keyword-only, returning frozen dataclasses (``core.types.Reading`` for readings). Times are UTC; billing and
consumption periods are cut in local time (``tz``, Europe/Warsaw by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from core.ids import split_meter_key
from core.types import SOURCE_BY_CODE, SOURCE_CODES, Reading, ReadingSource, alarms_from_mask
from storage.consumption import ConsumptionPeriod, Segment, period_bounds, segment_values, sum_periods

ESTIMATED = SOURCE_CODES[ReadingSource.ESTIMATED]
DEFAULT_TZ = "Europe/Warsaw"

__all__ = ["BillingReading", "ConsumptionPeriod", "MeterInfo", "billing_readings", "consumption",
           "find_meters", "list_meters", "meter_readings", "service_point_exists"]


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """A registered meter with its current service point and last reading time."""

    meter_key: int
    manufacturer: str
    meter_id: str
    version: int | None
    device_type: int | None
    model: str | None
    driver: str | None
    q3_m3h: float | None
    read_mode: str
    legalization_mark_type: str | None
    legalization_mark_value: str | None
    legalized_on: date | None
    legal_valid_until: date | None
    service_point_id: str | None
    last_reading_at: datetime | None


@dataclass(frozen=True, slots=True)
class BillingReading:
    """A meter's state at a billing cut-off.

    ``reading_at``/``total_m3`` is the last reading at or before the cut-off and ``actual`` says whether it was
    read (radio, drive-by, manual) rather than estimated. ``target_m3`` is the meter's own stored value for
    ``target_date`` (the cut-off's local date) when the meter reported one; ``billing_m3`` prefers it.
    """

    meter_key: int
    manufacturer: str
    meter_id: str
    service_point_id: str | None
    reading_at: datetime | None
    total_m3: float | None
    actual: bool | None
    target_date: date
    target_m3: float | None
    billing_m3: float | None
    basis: str  # "target" | "reading" | "none"
    legal_valid_until: date | None
    legally_valid: bool | None


# One row of the ``SELECT`` in :func:`meter_readings`, typed after the ``readings`` columns.
_ReadingRow = tuple[int, datetime, datetime, float | None, float | None, date | None, float | None, float | None,
                    int, int, int | None]


def _reading(row: _ReadingRow) -> Reading:
    manufacturer, meter_id = split_meter_key(int(row[0]))
    return Reading(meter_id=meter_id, manufacturer=manufacturer, measured_at=row[1], received_at=row[2],
                   total_m3=row[3], target_m3=row[4], target_date=row[5], backward_m3=row[6],
                   flow_m3h=row[7], alarms=alarms_from_mask(int(row[8])),
                   source=SOURCE_BY_CODE[int(row[9])],
                   access_number=None if row[10] is None or row[10] < 0 else row[10])  # -1: none (migration 005)


def meter_readings(conn: psycopg.Connection, *, meter_key: int, start: datetime, end: datetime,
                   limit: int = 10_000, after: datetime | None = None) -> list[Reading]:
    """Readings of one meter with ``start <= measured_at < end``, oldest first, at most ``limit``.

    ``after`` is a keyset position (the last ``measured_at`` of the previous page): only later readings come
    back. The primary key ``(meter_key, measured_at)`` serves both the range and the order.
    """
    lo, strict = (after, True) if after is not None and after >= start else (start, False)
    rows = conn.execute(
        "SELECT meter_key, measured_at, received_at, total_m3, target_m3, target_date, backward_m3, flow_m3h, "
        "alarms, source, access_number FROM readings WHERE meter_key = %s AND measured_at " + (">" if strict else ">=")
        + " %s AND measured_at < %s ORDER BY measured_at LIMIT %s", (meter_key, lo, end, limit)).fetchall()
    return [_reading(r) for r in rows]


_METERS = """
SELECT m.meter_key, m.manufacturer, m.meter_id, m.version, m.device_type, m.model, m.driver, m.q3_m3h,
       m.read_mode, m.legalization_mark_type, m.legalization_mark_value, m.legalized_on, m.legal_valid_until,
       i.service_point_id,
       (SELECT max(measured_at) FROM readings r WHERE r.meter_key = m.meter_key) AS last_reading_at
  FROM meters m
  LEFT JOIN LATERAL (SELECT service_point_id FROM installations i WHERE i.meter_key = m.meter_key
                        AND i.removed_at IS NULL ORDER BY installed_at DESC LIMIT 1) i ON true
"""


def _meter(row: Sequence[object]) -> MeterInfo:
    values = list(row)
    values[1], values[2] = str(values[1]).strip(), str(values[2]).strip()
    return MeterInfo(*values)  # type: ignore[arg-type]


def list_meters(conn: psycopg.Connection, *, limit: int = 1000, after: tuple[str, str] | None = None,
                service_point: str | None = None) -> list[MeterInfo]:
    """Registered meters ordered by manufacturer and id (optionally those installed at one service point).

    ``after`` is a keyset position ``(manufacturer, meter_id)``: only meters after it come back (the unique
    index on ``(manufacturer, meter_id)`` serves it).
    """
    where = ["true"]
    if service_point is not None:
        where.append("i.service_point_id = %(sp)s")
    if after is not None:
        where.append("(m.manufacturer, m.meter_id) > (%(a_man)s::char(3), %(a_id)s::char(8))")
    sql = _METERS + " WHERE " + " AND ".join(where) + " ORDER BY m.manufacturer, m.meter_id LIMIT %(limit)s"
    a_man, a_id = after if after is not None else (None, None)
    rows = conn.execute(sql, {"limit": limit, "sp": service_point, "a_man": a_man, "a_id": a_id}).fetchall()
    return [_meter(r) for r in rows]


def find_meters(conn: psycopg.Connection, *, meter_id: str, manufacturer: str | None = None) -> list[MeterInfo]:
    """Meters with this 8-digit id (several manufacturers may share one), optionally of one manufacturer."""
    sql = _METERS + " WHERE m.meter_id = %(id)s" + ("" if manufacturer is None else " AND m.manufacturer = %(man)s")
    rows = conn.execute(sql + " ORDER BY m.manufacturer", {"id": meter_id.upper(),
                                                           "man": (manufacturer or "").upper()}).fetchall()
    return [_meter(r) for r in rows]


_BILLING = """
SELECT m.meter_key, m.manufacturer, m.meter_id, i.service_point_id, r.measured_at, r.total_m3, r.source,
       t.target_m3, m.legal_valid_until
  FROM meters m
  LEFT JOIN LATERAL (SELECT measured_at, total_m3, source FROM readings r
                      WHERE r.meter_key = m.meter_key AND r.measured_at <= %(at)s AND r.total_m3 IS NOT NULL
                      ORDER BY r.measured_at DESC LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT target_m3 FROM readings r
                      WHERE r.meter_key = m.meter_key AND r.measured_at >= %(t_lo)s AND r.measured_at < %(t_hi)s
                        AND r.target_date = %(d)s AND r.target_m3 IS NOT NULL
                      ORDER BY r.measured_at LIMIT 1) t ON true
  LEFT JOIN LATERAL (SELECT service_point_id FROM installations i
                      WHERE i.meter_key = m.meter_key AND i.installed_at <= %(at)s
                        AND (i.removed_at IS NULL OR i.removed_at > %(at)s)
                      ORDER BY i.installed_at DESC LIMIT 1) i ON true
 WHERE (%(keys)s::bigint[] IS NULL OR m.meter_key = ANY(%(keys)s::bigint[]))
   AND (%(a_man)s::char(3) IS NULL OR (m.manufacturer, m.meter_id) > (%(a_man)s::char(3), %(a_id)s::char(8)))
 ORDER BY m.manufacturer, m.meter_id
 LIMIT %(limit)s
"""


def billing_readings(conn: psycopg.Connection, *, at: datetime, tz: str = DEFAULT_TZ,
                     target_date: date | None = None, meter_keys: Sequence[int] | None = None,
                     target_search_days: int = 62, limit: int | None = None,
                     after: tuple[str, str] | None = None) -> list[BillingReading]:
    """For every meter (or ``meter_keys``): the last reading at or before ``at`` and the stored target value.

    The target value is taken from any reading within ``target_search_days`` after the target date whose
    ``target_date`` equals ``target_date`` (default: the local date of ``at`` in ``tz``). Meters come in
    ``(manufacturer, meter_id)`` order; ``limit`` and the keyset position ``after`` page through them.
    """
    zone = ZoneInfo(tz)
    day = target_date or at.astimezone(zone).date()
    t_lo = datetime.combine(day, datetime.min.time(), zone)
    a_man, a_id = after if after is not None else (None, None)
    params = {"at": at, "d": day, "t_lo": t_lo, "t_hi": t_lo + timedelta(days=target_search_days),
              "keys": list(meter_keys) if meter_keys is not None else None, "limit": limit,
              "a_man": a_man, "a_id": a_id}
    out = []
    for mk, man, mid, sp, r_at, total, source, target, valid_until in conn.execute(_BILLING, params):
        billing, basis = (target, "target") if target is not None else (
            (total, "reading") if total is not None else (None, "none"))
        out.append(BillingReading(
            meter_key=mk, manufacturer=man.strip(), meter_id=mid.strip(), service_point_id=sp, reading_at=r_at,
            total_m3=total, actual=None if source is None else source != ESTIMATED, target_date=day,
            target_m3=target, billing_m3=billing, basis=basis, legal_valid_until=valid_until,
            legally_valid=None if valid_until is None else valid_until >= at.astimezone(zone).date()))
    return out


def service_point_exists(conn: psycopg.Connection, *, service_point: str) -> bool:
    """True when the service point is registered."""
    return conn.execute("SELECT 1 FROM service_points WHERE id = %s", (service_point,)).fetchone() is not None


def _segments(conn: psycopg.Connection, meter_key: int | None, service_point: str | None,
              start: datetime, end: datetime) -> list[Segment]:
    if service_point is None:
        return [Segment(meter_key=int(meter_key), installed_at=None, removed_at=None,  # type: ignore[arg-type]
                        initial_m3=None, final_m3=None)]
    rows = conn.execute(
        "SELECT meter_key, installed_at, removed_at, initial_m3, final_m3 FROM installations "
        "WHERE service_point_id = %s AND installed_at < %s AND (removed_at IS NULL OR removed_at > %s) "
        "ORDER BY installed_at", (service_point, end, start)).fetchall()
    return [Segment(*r) for r in rows]


def consumption(conn: psycopg.Connection, *, start: datetime, end: datetime, interval: str = "day",
                meter_key: int | None = None, service_point: str | None = None, tz: str = DEFAULT_TZ,
                max_gap: timedelta = timedelta(hours=6), limit: int | None = None) -> list[ConsumptionPeriod]:
    """Consumption per period of one meter or of a service point (summed across meter replacements).

    At most ``limit`` periods from ``start`` on (all when None): a caller pages on by asking again from the
    last period's ``end``. See :mod:`storage.consumption` for how boundary values are interpolated and when a
    period is estimated.
    """
    if (meter_key is None) == (service_point is None):
        raise ValueError("give exactly one of meter_key and service_point")
    bounds = period_bounds(start, end, interval, ZoneInfo(tz), max_periods=limit)
    end = bounds[-1]
    per_segment = [segment_values(conn, seg, bounds, max_gap) for seg in _segments(conn, meter_key, service_point,
                                                                                    start, end)]
    return sum_periods(bounds, per_segment)
