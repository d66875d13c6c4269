"""One service point as the drill-down page shows it: the point, its installations (meters, replacements,
legalization), its newest readings with their basis, and how the gateways hear its meters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from core.types import SOURCE_BY_CODE
from storage.sql import dict_rows as _rows


def service_point(conn: psycopg.Connection, *, service_point_id: str) -> dict[str, Any] | None:
    """The service point's row (address, customer reference, position, area), or None."""
    rows = _rows(conn, "SELECT id, address, customer_ref, lat, lon, area, occupied FROM service_points "
                       "WHERE id = %s", (service_point_id,))
    return rows[0] if rows else None


def installations(conn: psycopg.Connection, *, service_point_id: str) -> list[dict[str, Any]]:
    """Meters installed at the point, newest first, with their legalization validity."""
    return _rows(conn, """SELECT i.meter_key, m.manufacturer, m.meter_id, m.model, m.read_mode, i.installed_at,
                                 i.removed_at, i.initial_m3, i.final_m3, m.legalization_mark_type,
                                 m.legalization_mark_value, m.legal_valid_until
                            FROM installations i JOIN meters m ON m.meter_key = i.meter_key
                           WHERE i.service_point_id = %s ORDER BY i.installed_at DESC""", (service_point_id,))


def readings(conn: psycopg.Connection, *, service_point_id: str, start: datetime, end: datetime,
             limit: int = 200) -> list[dict[str, Any]]:
    """Newest readings (at most ``limit``) of the meters while installed at the point, in ``[start, end)``;
    ``basis`` is the reading's source (radio, driveby, manual, estimated)."""
    rows = _rows(conn, """SELECT m.manufacturer, m.meter_id, r.measured_at, r.received_at, r.total_m3,
                                 r.target_m3, r.target_date, r.backward_m3, r.flow_m3h, r.alarms, r.source
                            FROM installations i JOIN meters m ON m.meter_key = i.meter_key
                            JOIN readings r ON r.meter_key = i.meter_key
                             AND r.measured_at >= greatest(i.installed_at, %(start)s)
                             AND r.measured_at < least(coalesce(i.removed_at, %(end)s), %(end)s)
                           WHERE i.service_point_id = %(sp)s
                           ORDER BY r.measured_at DESC LIMIT %(limit)s""",
                 {"sp": service_point_id, "start": start, "end": end, "limit": limit})
    for r in rows:
        source = SOURCE_BY_CODE.get(r.pop("source"))
        r["basis"] = source.value if source is not None else "unknown"
    return rows
