"""Notification subscriptions and the outbox (transactional: queued with the alert change that caused it).

Delivery claims due rows with a lease (``next_attempt_at`` moved ahead), so a dispatcher that crashes
mid-send leaves the row to be retried when the lease runs out; ``mark_failed`` schedules the next attempt
or dead-letters the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

_SEVERITIES = "ARRAY['info','warning','critical']"


def add_subscription(
    conn: psycopg.Connection,
    *,
    channel: str,
    target: str,
    secret: str | None = None,
    kinds: list[str] | None = None,
    min_severity: str = "info",
    areas: list[str] | None = None,
    events: list[str] | None = None,
) -> int:
    """Store a subscription; ``kinds``/``areas`` None means all."""
    row = conn.execute(
        "INSERT INTO alert_subscriptions (channel, target, secret, kinds, min_severity, areas, events) "
        "VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, '{raised,escalated,resolved}'::text[])) RETURNING id",
        (channel, target, secret, kinds, min_severity, areas, events),
    ).fetchone()
    assert row is not None
    return int(row[0])


def list_subscriptions(conn: psycopg.Connection, *, active_only: bool = True) -> list[dict[str, Any]]:
    """Stored subscriptions."""
    sql = "SELECT * FROM alert_subscriptions" + (" WHERE active" if active_only else "") + " ORDER BY id"
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql).fetchall())


def enqueue_for_subscribers(
    conn: psycopg.Connection, *, alert_id: int, event: str, payload: dict[str, Any], at: datetime
) -> int:
    """Queue ``payload`` for every active subscription matching the alert's kind, severity, area and event."""
    cur = conn.execute(
        f"""INSERT INTO alert_outbox (subscription_id, alert_id, event, payload, created_at, next_attempt_at)
            SELECT s.id, a.id, %(event)s, %(payload)s, %(at)s, %(at)s
              FROM alert_subscriptions s JOIN alerts a ON a.id = %(alert_id)s
             WHERE s.active AND %(event)s = ANY(s.events)
               AND (s.kinds IS NULL OR a.kind = ANY(s.kinds))
               AND (s.areas IS NULL OR a.area = ANY(s.areas))
               AND array_position({_SEVERITIES}, a.severity) >= array_position({_SEVERITIES}, s.min_severity)""",
        {"event": event, "payload": Jsonb(payload), "at": at, "alert_id": alert_id},
    )
    return cur.rowcount


def claim_due(
    conn: psycopg.Connection, *, now: datetime, limit: int = 100, lease: timedelta = timedelta(seconds=60)
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due messages (with their subscription) and lease them for ``lease``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """UPDATE alert_outbox o SET next_attempt_at = %(until)s
                WHERE o.id IN (SELECT id FROM alert_outbox
                                WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= %(now)s
                                ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
            RETURNING o.id, o.subscription_id, o.alert_id, o.event, o.payload, o.attempts""",
            {"now": now, "until": now + lease, "limit": limit},
        )
        rows = list(cur.fetchall())
        if not rows:
            return []
        subs = {
            s["id"]: s
            for s in cur.execute(
                "SELECT id, channel, target, secret FROM alert_subscriptions WHERE id = ANY(%s)",
                ([r["subscription_id"] for r in rows],),
            ).fetchall()
        }
    for r in rows:
        r["subscription"] = subs[r["subscription_id"]]
    return sorted(rows, key=lambda r: r["id"])


def mark_sent(conn: psycopg.Connection, *, outbox_id: int, at: datetime) -> None:
    """The message was delivered."""
    conn.execute("UPDATE alert_outbox SET sent_at = %s, attempts = attempts + 1 WHERE id = %s", (at, outbox_id))


def mark_failed(
    conn: psycopg.Connection, *, outbox_id: int, error: str, next_attempt_at: datetime | None, at: datetime
) -> None:
    """A delivery attempt failed: retry at ``next_attempt_at``, or dead-letter when it is None."""
    conn.execute(
        "UPDATE alert_outbox SET attempts = attempts + 1, last_error = %s, "
        "next_attempt_at = coalesce(%s, next_attempt_at), dead_at = CASE WHEN %s::timestamptz IS NULL "
        "THEN %s END WHERE id = %s",
        (error[:2000], next_attempt_at, next_attempt_at, at, outbox_id),
    )


def outbox_rows(conn: psycopg.Connection, *, pending_only: bool = False) -> list[dict[str, Any]]:
    """Outbox rows (for tests, the CLI and dead-letter inspection)."""
    sql = "SELECT * FROM alert_outbox" + (" WHERE sent_at IS NULL AND dead_at IS NULL" if pending_only else "")
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql + " ORDER BY id").fetchall())
