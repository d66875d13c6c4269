"""Portal reads (role ``portal``, scoped to its service points): lookup by customer_ref, the service point's
meters with legalization "valid until", open leak alerts, and the reading history with each value's basis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


def by_customer(conn: psycopg.Connection, customer_ref: str) -> list[dict[str, Any]]:
    """Service points of a customer reference."""
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute("SELECT id, address, area FROM service_points WHERE customer_ref = %s ORDER BY id",
                                (customer_ref,)))


def summary(conn: psycopg.Connection, service_point_id: str) -> dict[str, Any] | None:
    """The service point, its current meters (legal valid until) and open leak alerts; None if unknown."""
    with conn.cursor(row_factory=dict_row) as cur:
        sp = cur.execute("SELECT id, address, customer_ref, area FROM service_points WHERE id = %s",
                         (service_point_id,)).fetchone()
        if sp is None:
            return None
        sp["meters"] = list(cur.execute(
            "SELECT m.manufacturer || '-' || m.meter_id AS meter, i.installed_at, m.legal_valid_until"
            " FROM installations i JOIN meters m USING (meter_key) WHERE i.service_point_id = %s"
            " AND i.removed_at IS NULL ORDER BY i.installed_at", (service_point_id,)))
        sp["open_leaks"] = list(cur.execute(
            "SELECT id, kind, opened_at, state FROM alerts WHERE service_point_id = %s AND state <> 'resolved'"
            " AND kind LIKE '%%leak%%' ORDER BY opened_at DESC LIMIT 100", (service_point_id,)))
    return sp


def history(conn: psycopg.Connection, service_point_id: str, start: datetime, end: datetime,
            limit: int) -> list[dict[str, Any]]:
    """Readings of the service point's meters while installed there, newest first, with their basis."""
    sql = """
    SELECT * FROM (
      SELECT m.manufacturer || '-' || m.meter_id AS meter, r.measured_at AS at,
             coalesce(e.value_m3, r.total_m3) AS value_m3,
             CASE WHEN e.action = 'replace' THEN 'edited' ELSE 'actual' END AS basis,
             coalesce(v.rules, '{}') AS flags
        FROM installations i JOIN meters m USING (meter_key)
        JOIN readings r ON r.meter_key = i.meter_key AND r.measured_at >= greatest(i.installed_at, %(s)s)
                       AND r.measured_at < least(coalesce(i.removed_at, 'infinity'), %(e)s)
        LEFT JOIN reading_validations v ON (v.meter_key, v.measured_at, v.access_number)
                                         = (r.meter_key, r.measured_at, r.access_number)
        LEFT JOIN LATERAL (SELECT action, value_m3 FROM reading_edits x WHERE x.meter_key = r.meter_key
                            AND x.measured_at = r.measured_at AND x.access_number = r.access_number
                            ORDER BY x.id DESC LIMIT 1) e ON true
       WHERE i.service_point_id = %(sp)s AND r.total_m3 IS NOT NULL
      UNION ALL
      SELECT m.manufacturer || '-' || m.meter_id, mr.taken_at, mr.value_m3, 'manual:' || mr.source, '{}'
        FROM manual_readings mr JOIN meters m USING (meter_key)
       WHERE mr.service_point_id = %(sp)s AND mr.status = 'accepted' AND mr.taken_at >= %(s)s
         AND mr.taken_at < %(e)s
    ) h ORDER BY at DESC LIMIT %(n)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, {"sp": service_point_id, "s": start, "e": end, "n": limit}))
