"""Alert storage: alerts and their history, notification subscriptions, and the notification outbox.

Every function takes a psycopg connection and keyword arguments and returns plain dicts (storage does not
import ``alerts``). Changing an alert and queueing its notifications happen in the caller's transaction,
so a crash never loses a notification nor sends one for a change that was rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

_AREA_OF = """coalesce(
    (SELECT sp.area FROM service_points sp WHERE sp.id = %(sp)s),
    (SELECT sp.area FROM installations i JOIN service_points sp ON sp.id = i.service_point_id
      WHERE i.meter_key = %(meter_key)s ORDER BY i.installed_at DESC LIMIT 1))"""
_COLUMNS = (
    "id, kind, subject, meter_key, service_point_id, area, severity, state, dedupe_key, evidence, "
    "detected_at, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolution"
)


def _rows(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def open_alerts(conn: psycopg.Connection, *, kinds: list[str] | None = None) -> list[dict[str, Any]]:
    """Every alert that is open or acknowledged (optionally only of ``kinds``)."""
    sql = f"SELECT {_COLUMNS} FROM alerts WHERE state <> 'resolved'"
    if kinds is not None:
        return _rows(conn, sql + " AND kind = ANY(%s)", (kinds,))
    return _rows(conn, sql)


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
) -> int | None:
    """Raise an alert (and record the event); None when (kind, subject, dedupe_key) exists or one is open."""
    params = {
        "kind": kind,
        "subject": subject,
        "meter_key": meter_key,
        "sp": service_point_id,
        "severity": severity,
        "dedupe_key": dedupe_key,
        "evidence": Jsonb(evidence),
        "detected_at": detected_at,
        "now": now,
        "state": "resolved" if resolved else "open",
    }
    row = conn.execute(
        f"""INSERT INTO alerts (kind, subject, meter_key, service_point_id, area, severity, state, dedupe_key,
                               evidence, detected_at, opened_at, resolved_at, resolution)
            VALUES (%(kind)s, %(subject)s, %(meter_key)s, %(sp)s, {_AREA_OF}, %(severity)s, %(state)s,
                    %(dedupe_key)s, %(evidence)s, %(detected_at)s, %(now)s,
                    CASE WHEN %(state)s = 'resolved' THEN %(now)s END,
                    CASE WHEN %(state)s = 'resolved' THEN 'episode over' END)
            ON CONFLICT DO NOTHING RETURNING id""",
        params,
    ).fetchone()
    if row is None:
        return None
    _event(conn, row[0], "raised", now, severity=severity, evidence=evidence)
    if resolved:
        _event(conn, row[0], "resolved", now, note="episode over")
    return int(row[0])


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


def escalate(conn: psycopg.Connection, *, alert_id: int, severity: str, evidence: dict[str, Any], at: datetime) -> bool:
    """Raise an open alert's severity and replace its evidence."""
    cur = conn.execute(
        "UPDATE alerts SET severity = %s, evidence = %s WHERE id = %s AND state <> 'resolved'",
        (severity, Jsonb(evidence), alert_id),
    )
    if cur.rowcount:
        _event(conn, alert_id, "escalated", at, severity=severity, evidence=evidence)
    return bool(cur.rowcount)


def resolve(
    conn: psycopg.Connection, *, alert_id: int, at: datetime, resolution: str = "auto", actor: str = "system"
) -> bool:
    """Resolve an open or acknowledged alert; False if it was already resolved."""
    cur = conn.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = %s, resolution = %s WHERE id = %s AND state <> 'resolved'",
        (at, resolution, alert_id),
    )
    if cur.rowcount:
        _event(conn, alert_id, "resolved", at, actor=actor, note=resolution)
    return bool(cur.rowcount)


def acknowledge(
    conn: psycopg.Connection, *, alert_id: int, at: datetime, actor: str, note: str | None = None
) -> dict[str, Any] | None:
    """Mark an open alert acknowledged; returns the alert (unchanged if it was not open), None if unknown."""
    cur = conn.execute(
        "UPDATE alerts SET state = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s "
        "WHERE id = %s AND state = 'open'",
        (at, actor, alert_id),
    )
    if cur.rowcount:
        _event(conn, alert_id, "acknowledged", at, actor=actor, note=note)
    return get_alert(conn, alert_id=alert_id)


def get_alert(conn: psycopg.Connection, *, alert_id: int) -> dict[str, Any] | None:
    """One alert by id."""
    rows = _rows(conn, f"SELECT {_COLUMNS} FROM alerts WHERE id = %s", (alert_id,))
    return rows[0] if rows else None


def list_alerts(
    conn: psycopg.Connection,
    *,
    state: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    area: str | None = None,
    meter_key: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Alerts, newest first, filtered by any of state, kind, severity, area, meter."""
    where, params = [], []
    for col, val in (
        ("state", state),
        ("kind", kind),
        ("severity", severity),
        ("area", area),
        ("meter_key", meter_key),
    ):
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    sql = f"SELECT {_COLUMNS} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return _rows(conn, sql + " ORDER BY opened_at DESC, id DESC LIMIT %s OFFSET %s", (*params, limit, offset))


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
        "SELECT kind, severity, state, count(*) AS n FROM alerts WHERE state <> 'resolved' "
        "GROUP BY kind, severity, state ORDER BY kind, severity, state",
    )


def open_counts_by_kind(conn: psycopg.Connection) -> dict[str, int]:
    """Unresolved alerts per kind (the Prometheus gauge)."""
    rows = conn.execute("SELECT kind, count(*) FROM alerts WHERE state <> 'resolved' GROUP BY kind").fetchall()
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
