"""Alert storage: alerts and their history, notification subscriptions, and the notification outbox.

Every function takes a psycopg connection and keyword arguments and returns plain dicts (storage does not
import ``alerts``). Changing an alert and queueing its notifications happen in the caller's transaction,
so a crash never loses a notification nor sends one for a change that was rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage import incidents
from storage.sql import dict_rows as _rows

_AREA_OF = """coalesce(
    (SELECT sp.area FROM service_points sp WHERE sp.id = p.sp),
    (SELECT sp.area FROM installations i JOIN service_points sp ON sp.id = i.service_point_id
      WHERE i.meter_key = %(meter_key)s ORDER BY i.installed_at DESC LIMIT 1))"""
# the installation serving the meter when the condition started, else its current one
_POINT_AT = """coalesce(%(sp)s::text,
    (SELECT i.service_point_id FROM installations i WHERE i.meter_key = %(meter_key)s
        AND i.installed_at <= %(detected_at)s AND (i.removed_at IS NULL OR i.removed_at > %(detected_at)s)
      ORDER BY i.installed_at DESC LIMIT 1),
    (SELECT i.service_point_id FROM installations i WHERE i.meter_key = %(meter_key)s AND i.removed_at IS NULL
      ORDER BY i.installed_at DESC LIMIT 1))"""
# every alert row names its subject: the meter (manufacturer + id), the service point, address, customer
_FROM = """alerts a
  LEFT JOIN meters m ON m.meter_key = a.meter_key
  LEFT JOIN service_points sp ON sp.id = a.service_point_id"""
_COLUMNS = (
    "a.id, a.kind, a.subject, a.meter_key, m.manufacturer, m.meter_id, a.service_point_id, sp.address, "
    "sp.customer_ref, a.area, a.gateway_id, a.incident_id, a.severity, a.state, a.dedupe_key, a.evidence, "
    "a.detected_at, a.opened_at, a.acknowledged_at, a.acknowledged_by, a.assignee, a.assigned_at, "
    "a.resolved_at, a.resolved_by, a.resolution, a.dismissed_at, a.dismissed_by, a.dismiss_reason"
)
UNRESOLVED = ("open", "acknowledged")


def open_alerts(conn: psycopg.Connection, *, kinds: list[str] | None = None) -> list[dict[str, Any]]:
    """Every alert that is open or acknowledged (optionally only of ``kinds``)."""
    sql = f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.state IN ('open', 'acknowledged')"
    if kinds is not None:
        return _rows(conn, sql + " AND a.kind = ANY(%s)", (kinds,))
    return _rows(conn, sql)


def open_alert_of(conn: psycopg.Connection, *, kind: str, subject: str) -> dict[str, Any] | None:
    """The open or acknowledged alert of ``kind`` about ``subject`` (at most one exists), or None."""
    rows = _rows(conn, f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.kind = %s AND a.subject = %s "
                       "AND a.state IN ('open', 'acknowledged')", (kind, subject))
    return rows[0] if rows else None


def insert_alert(
    conn: psycopg.Connection,
    *,
    kind: str,
    subject: str,
    meter_key: int | None,
    service_point_id: str | None,
    severity: str,
    dedupe_key: str,
    evidence: dict[str, Any],
    detected_at: datetime,
    now: datetime,
    resolved: bool = False,
    gateway_id: str | None = None,
) -> int | None:
    """Raise an alert (and record the event); None when (kind, subject, dedupe_key) exists or one is open.

    A meter-level alert gets the service point its meter served when the condition started (else the one it
    serves now); the alert joins the active incident of its condition at that service point, or opens one.
    """
    params = {
        "kind": kind, "subject": subject, "meter_key": meter_key, "sp": service_point_id, "severity": severity,
        "dedupe_key": dedupe_key, "evidence": Jsonb(evidence), "detected_at": detected_at, "now": now,
        "state": "resolved" if resolved else "open", "gateway_id": gateway_id,
    }
    # one round trip: the service point at detection, the alert, and its 'raised' event
    row = conn.execute(
        f"""WITH p AS (SELECT {_POINT_AT}::text AS sp),
                 a AS (INSERT INTO alerts (kind, subject, meter_key, service_point_id, area, gateway_id, severity,
                                           state, dedupe_key, evidence, detected_at, opened_at, resolved_at,
                                           resolution)
                       SELECT %(kind)s, %(subject)s, %(meter_key)s, p.sp, {_AREA_OF}, %(gateway_id)s, %(severity)s,
                              %(state)s, %(dedupe_key)s, %(evidence)s, %(detected_at)s, %(now)s,
                              CASE WHEN %(state)s = 'resolved' THEN %(now)s END,
                              CASE WHEN %(state)s = 'resolved' THEN 'episode over' END
                         FROM p
                       ON CONFLICT DO NOTHING RETURNING id)
            INSERT INTO alert_events (alert_id, at, event, actor, severity, evidence)
            SELECT id, %(now)s, 'raised', 'system', %(severity)s, %(evidence)s FROM a RETURNING alert_id""",
        params,
    ).fetchone()
    if row is None:
        return None
    alert_id = int(row[0])
    if resolved:
        _event(conn, alert_id, "resolved", now, note="episode over")
    incidents.link(conn, alert_id=alert_id, at=now, kind=kind)
    return alert_id


def _event(
    conn: psycopg.Connection,
    alert_id: int,
    event: str,
    at: datetime,
    *,
    actor: str = "system",
    severity: str | None = None,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO alert_events (alert_id, at, event, actor, severity, evidence, note) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (alert_id, at, event, actor, severity, Jsonb(evidence) if evidence is not None else None, note),
    )


def _transition(
    conn: psycopg.Connection, alert_id: int, at: datetime, event: str, sql: str, params: tuple[Any, ...],
    **event_fields: Any,
) -> bool:
    """Run one lifecycle UPDATE; if it changed the alert, record ``event`` and refresh the alert's incident."""
    cur = conn.execute(sql, params)
    if cur.rowcount:
        _event(conn, alert_id, event, at, **event_fields)
        incidents.refresh_for_alert(conn, alert_id=alert_id, at=at)
    return bool(cur.rowcount)


def escalate(conn: psycopg.Connection, *, alert_id: int, severity: str, evidence: dict[str, Any], at: datetime) -> bool:
    """Raise an open alert's severity and replace its evidence."""
    return _transition(
        conn, alert_id, at, "escalated",
        "UPDATE alerts SET severity = %s, evidence = %s WHERE id = %s AND state IN ('open', 'acknowledged')",
        (severity, Jsonb(evidence), alert_id), severity=severity, evidence=evidence,
    )


def resolve(
    conn: psycopg.Connection, *, alert_id: int, at: datetime, resolution: str = "auto", actor: str = "system"
) -> bool:
    """Resolve an open or acknowledged alert; False if it was already resolved or dismissed."""
    return _transition(
        conn, alert_id, at, "resolved",
        "UPDATE alerts SET state = 'resolved', resolved_at = %s, resolution = %s, resolved_by = %s "
        "WHERE id = %s AND state IN ('open', 'acknowledged')",
        (at, resolution, actor, alert_id), actor=actor, note=resolution,
    )


def acknowledge(
    conn: psycopg.Connection, *, alert_id: int, at: datetime, actor: str, note: str | None = None
) -> dict[str, Any] | None:
    """Mark an open alert acknowledged; returns the alert (unchanged if it was not open), None if unknown."""
    _transition(
        conn, alert_id, at, "acknowledged",
        "UPDATE alerts SET state = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s "
        "WHERE id = %s AND state = 'open'",
        (at, actor, alert_id), actor=actor, note=note,
    )
    return get_alert(conn, alert_id=alert_id)


def dismiss(conn: psycopg.Connection, *, alert_id: int, at: datetime, actor: str, reason: str) -> bool:
    """Close an open or acknowledged alert as a false positive; ``reason`` is required. False if closed."""
    if not reason.strip():
        raise ValueError("dismissing an alert needs a reason")
    return _transition(
        conn, alert_id, at, "dismissed",
        "UPDATE alerts SET state = 'dismissed', dismissed_at = %s, dismissed_by = %s, dismiss_reason = %s "
        "WHERE id = %s AND state IN ('open', 'acknowledged')",
        (at, actor, reason, alert_id), actor=actor, note=reason,
    )


def assign(conn: psycopg.Connection, *, alert_id: int, at: datetime, actor: str, assignee: str | None) -> bool:
    """Give an unresolved alert to ``assignee`` (None: unassign). False if it is closed."""
    cur = conn.execute(
        "UPDATE alerts SET assignee = %s, assigned_at = %s WHERE id = %s AND state IN ('open', 'acknowledged')",
        (assignee, at, alert_id),
    )
    if cur.rowcount:
        _event(conn, alert_id, "assigned", at, actor=actor, note=assignee)
    return bool(cur.rowcount)


def comment(conn: psycopg.Connection, *, alert_id: int, at: datetime, actor: str, text: str) -> bool:
    """Add a comment to an alert's history (in any state); False if the alert does not exist."""
    if not text.strip():
        raise ValueError("a comment needs text")
    if get_alert(conn, alert_id=alert_id) is None:
        return False
    _event(conn, alert_id, "commented", at, actor=actor, note=text)
    return True


def get_alert(conn: psycopg.Connection, *, alert_id: int) -> dict[str, Any] | None:
    """One alert by id, with its meter, service point, address and customer reference."""
    rows = _rows(conn, f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.id = %s", (alert_id,))
    return rows[0] if rows else None


def list_alerts(
    conn: psycopg.Connection,
    *,
    state: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    area: str | None = None,
    meter_key: int | None = None,
    service_point_id: str | None = None,
    manufacturer: str | None = None,
    meter_id: str | None = None,
    assignee: str | None = None,
    gateway_id: str | None = None,
    incident_id: int | None = None,
    limit: int = 100,
    after: tuple[Any, ...] | None = None,
    sort: str = "-opened_at",
) -> list[dict[str, Any]]:
    """Alerts in the order ``sort`` (one of :data:`SORTS`; default newest first), filtered by any of state,
    kind, severity, area, meter (key, or manufacturer and id), service point, assignee, gateway, incident.
    ``after`` is a keyset position, the previous page's last alert's :func:`sort_key` for the same ``sort``:
    only alerts after it come back."""
    primary, ascending = SORTS[sort]
    where: list[str] = []
    params: list[Any] = []
    if after is not None:
        if primary is None:
            where.append(f"(a.opened_at, a.id) {'>' if ascending else '<'} (%s, %s)")
            params.extend(after)
        else:
            # primary ascending, then newest first: the first term bounds the index scan, the second is exact
            where.append(f"{primary} >= %s AND ({primary} > %s OR ({primary} = %s AND (a.opened_at, a.id) < (%s, %s)))")
            params.extend((after[0], after[0], after[0], after[1], after[2]))
    for col, val in (
        ("a.state", state),
        ("a.kind", kind),
        ("a.severity", severity),
        ("a.area", area),
        ("a.meter_key", meter_key),
        ("a.service_point_id", service_point_id),
        ("m.manufacturer", manufacturer.upper() if manufacturer else None),
        ("m.meter_id", meter_id.upper() if meter_id else None),
        ("a.assignee", assignee),
        ("a.gateway_id", gateway_id),
        ("a.incident_id", incident_id),
    ):
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    sql = f"SELECT {_COLUMNS} FROM {_FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if primary is None:
        order = " ASC" if ascending else " DESC"
        sql += f" ORDER BY a.opened_at{order}, a.id{order}"
    else:
        sql += f" ORDER BY {primary}, a.opened_at DESC, a.id DESC"
    return _rows(conn, sql + " LIMIT %s", (*params, limit))


SEVERITY_RANK = "(CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)"
STATE_RANK = "(CASE a.state WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END)"
# sort name -> (primary key expression, or None for opened_at alone; ascending). A primary key is ascending and
# its ties are newest first; the expressions match the indexes of migration 055 (area: no area sorts first).
SORTS: dict[str, tuple[str | None, bool]] = {
    "-opened_at": (None, False),
    "opened_at": (None, True),
    "-severity": (SEVERITY_RANK, True),
    "state": (STATE_RANK, True),
    "kind": ("a.kind", True),
    "area": ("coalesce(a.area, '')", True),
}
_RANKS = {"-severity": ("severity", {"critical": 0, "warning": 1}, 2),
          "state": ("state", {"open": 0, "acknowledged": 1, "resolved": 2}, 3)}


def sort_key(sort: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """The keyset position of ``row`` in the order ``sort`` (what ``after`` takes)."""
    primary, _ = SORTS[sort]
    if primary is None:
        return (row["opened_at"], row["id"])
    if sort in _RANKS:
        col, ranks, other = _RANKS[sort]
        first: Any = ranks.get(row[col], other)
    else:
        first = row[sort] or ""
    return (first, row["opened_at"], row["id"])


def alert_history(conn: psycopg.Connection, *, alert_id: int) -> list[dict[str, Any]]:
    """Every lifecycle event of one alert, oldest first."""
    return _rows(
        conn,
        "SELECT at, event, actor, severity, evidence, note FROM alert_events WHERE alert_id = %s ORDER BY at, id",
        (alert_id,),
    )


def summary(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Counts of unresolved alerts by kind, severity and state."""
    return _rows(
        conn,
        "SELECT kind, severity, state, count(*) AS n FROM alerts WHERE state IN ('open', 'acknowledged') "
        "GROUP BY kind, severity, state ORDER BY kind, severity, state",
    )


def open_counts_by_kind(conn: psycopg.Connection) -> dict[str, int]:
    """Unresolved alerts per kind (the Prometheus gauge)."""
    rows = conn.execute("SELECT kind, count(*) FROM alerts WHERE state IN ('open', 'acknowledged') "
                        "GROUP BY kind").fetchall()
    return {k: int(n) for k, n in rows}


def last_analysis_now(conn: psycopg.Connection) -> datetime | None:
    """The ``now`` of the latest analysis run, or None before the first."""
    row = conn.execute("SELECT max(now) FROM analysis_runs").fetchone()
    return row[0] if row else None


def record_analysis_run(
    conn: psycopg.Connection, *, now: datetime, raised: int, resolved: int, seconds: dict[str, float]
) -> None:
    """Remember one analysis run."""
    conn.execute(
        "INSERT INTO analysis_runs (now, raised, resolved, seconds) VALUES (%s, %s, %s, %s)",
        (now, raised, resolved, Jsonb(seconds)),
    )
