"""Incidents: the alerts of one condition at one service point, grouped (one leak, however many rules saw it).

A meter's ``continuous_flow`` and its service point's ``night_flow`` are one leak: ``incident_conditions``
(migration 052) maps alert kinds to a condition, any other kind is its own condition. The scope is the service
point (``sp:<id>``), or the alert's subject when it has none (a gateway, an uninstalled meter). An incident's
state is derived from its alerts: open while one is open, acknowledged while all unresolved ones are
acknowledged, dismissed when every alert was dismissed, else resolved; it closes when no alert is unresolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_RANK = "ARRAY['info','warning','critical']"
_COLUMNS = (
    "i.id, i.condition, i.scope, i.service_point_id, sp.address, sp.customer_ref, i.area, i.state, i.severity, "
    "i.opened_at, i.closed_at, "
    "(SELECT array_agg(a.id ORDER BY a.id) FROM alerts a WHERE a.incident_id = i.id) AS alert_ids, "
    "(SELECT array_agg(DISTINCT a.kind) FROM alerts a WHERE a.incident_id = i.id) AS kinds"
)


# a silent meter whose usual gateway (most receptions in the week before it fell silent) is offline is part of
# that gateway's outage: one incident instead of one per meter
_OUTAGE = """
SELECT i.id FROM alerts a JOIN incidents i ON i.closed_at IS NULL AND i.condition = 'gateway_offline'
 WHERE a.id = %(id)s AND a.kind = 'silent' AND a.meter_key IS NOT NULL
   AND i.scope = 'gw:' || (SELECT r.gw FROM raw_frames f CROSS JOIN LATERAL unnest(f.gateways) AS r(gw)
                            WHERE f.meter_key = a.meter_key AND f.received_at >= a.detected_at - interval '7 days'
                              AND f.received_at <= a.detected_at + interval '1 hour'
                            GROUP BY r.gw ORDER BY count(*) DESC, r.gw LIMIT 1)
"""


def link(conn: psycopg.Connection, *, alert_id: int, at: datetime, kind: str | None = None) -> int:
    """Attach a new alert to the active incident of its condition and scope (opening one); return its id.

    A ``silent`` alert whose meter's usual gateway has an active ``gateway_offline`` incident joins that one.
    """
    outage = conn.execute(_OUTAGE, {"id": alert_id}).fetchone() if kind in (None, "silent") else None
    if outage is not None:
        conn.execute("UPDATE alerts SET incident_id = %s WHERE id = %s", (outage[0], alert_id))
        refresh(conn, incident_id=int(outage[0]), at=at)
        return int(outage[0])
    row = conn.execute(
        f"""WITH i AS (
              INSERT INTO incidents (condition, scope, service_point_id, area, severity, opened_at)
              SELECT coalesce(c.condition, a.kind),
                     CASE WHEN a.service_point_id IS NOT NULL THEN 'sp:' || a.service_point_id ELSE a.subject END,
                     a.service_point_id, a.area, a.severity, %(at)s
                FROM alerts a LEFT JOIN incident_conditions c ON c.kind = a.kind WHERE a.id = %(id)s
              ON CONFLICT (condition, scope) WHERE closed_at IS NULL DO UPDATE SET severity =
                  CASE WHEN array_position({_RANK}, EXCLUDED.severity) > array_position({_RANK}, incidents.severity)
                       THEN EXCLUDED.severity ELSE incidents.severity END
              RETURNING id)
            UPDATE alerts SET incident_id = i.id FROM i WHERE alerts.id = %(id)s RETURNING i.id""",
        {"id": alert_id, "at": at},
    ).fetchone()
    assert row is not None
    incident_id = int(row[0])
    refresh(conn, incident_id=incident_id, at=at)
    return incident_id


def refresh(conn: psycopg.Connection, *, incident_id: int, at: datetime) -> None:
    """Derive the incident's state and severity from its alerts; close it when none is unresolved."""
    conn.execute(
        f"""UPDATE incidents i SET state = d.state, severity = coalesce(d.severity, i.severity),
                   closed_at = CASE WHEN d.state IN ('resolved', 'dismissed') THEN coalesce(i.closed_at, %(at)s) END
              FROM (SELECT CASE WHEN bool_or(state = 'open') THEN 'open'
                                WHEN bool_or(state = 'acknowledged') THEN 'acknowledged'
                                WHEN bool_and(state = 'dismissed') THEN 'dismissed'
                                ELSE 'resolved' END AS state,
                           ({_RANK})[max(array_position({_RANK}, severity))] AS severity
                      FROM alerts WHERE incident_id = %(id)s) d
             WHERE i.id = %(id)s""",
        {"id": incident_id, "at": at},
    )


def refresh_for_alert(conn: psycopg.Connection, *, alert_id: int, at: datetime) -> None:
    """:func:`refresh` the incident ``alert_id`` belongs to (if any)."""
    row = conn.execute("SELECT incident_id FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    if row and row[0] is not None:
        refresh(conn, incident_id=int(row[0]), at=at)


def list_incidents(
    conn: psycopg.Connection,
    *,
    state: str | None = None,
    condition: str | None = None,
    service_point_id: str | None = None,
    area: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Incidents newest first (by id; ``before_id`` is the keyset cursor), with their alerts' ids and kinds."""
    where: list[str] = []
    params: list[Any] = []
    for col, val in (("i.state", state), ("i.condition", condition), ("i.service_point_id", service_point_id),
                     ("i.area", area)):
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    if before_id is not None:
        where.append("i.id < %s")
        params.append(before_id)
    sql = f"SELECT {_COLUMNS} FROM incidents i LEFT JOIN service_points sp ON sp.id = i.service_point_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql + " ORDER BY i.id DESC LIMIT %s", (*params, limit)).fetchall())


def get_incident(conn: psycopg.Connection, *, incident_id: int) -> dict[str, Any] | None:
    """One incident with its alerts' ids and kinds."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM incidents i LEFT JOIN service_points sp ON sp.id = i.service_point_id "
            "WHERE i.id = %s", (incident_id,),
        ).fetchone()
    return row
