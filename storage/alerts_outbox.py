"""Notification subscriptions and the outbox (transactional: queued with the alert change that caused it).

Delivery claims due rows with a lease (``next_attempt_at`` moved ahead), so a dispatcher that crashes
mid-send leaves the row to be retried when the lease runs out; ``mark_failed`` schedules the next attempt
or dead-letters the row. Webhook signing secrets are sealed with the master key (migration 051) and opened only
when a message is claimed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from storage.errors import RegistryError
from storage.registry import master_key_id, open_secret, seal_secret

_SEVERITIES = "ARRAY['info','warning','critical']"
# the flow an alert's evidence names (continuous flow, night flow, burst), compared with a customer's threshold
_FLOW = ("coalesce((a.evidence->>'min_flow_m3h')::float8, (a.evidence->>'min_night_flow_m3h')::float8, "
         "(a.evidence->>'peak_flow_m3h')::float8)")


def _context(subscription_id: int) -> bytes:
    return f"alert_subscriptions.secret:{subscription_id}".encode()


def new_webhook_secret() -> str:
    """A fresh random signing secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


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
    master_key: bytes | None = None,
) -> int:
    """Store a subscription; ``kinds``/``areas`` None means all.

    A webhook always signs: without ``secret`` one is generated (callers that must show it generate it with
    :func:`new_webhook_secret`), and it is stored sealed with ``master_key`` (required for webhooks), never in
    plain text.
    """
    if channel == "webhook" and master_key is None:
        raise RegistryError("a webhook's signing secret is sealed with the master key: set ODCZYT_MASTER_KEY")
    row = conn.execute("SELECT nextval(pg_get_serial_sequence('alert_subscriptions', 'id'))").fetchone()
    assert row is not None
    sub_id = int(row[0])
    sealed = key_id = None
    if channel == "webhook" and master_key is not None:
        text = secret or new_webhook_secret()
        sealed = seal_secret(master_key, context=_context(sub_id), secret=text.encode())
        key_id = master_key_id(master_key)
    conn.execute(
        "INSERT INTO alert_subscriptions (id, channel, target, secret_enc, master_key_id, kinds, min_severity, "
        "areas, events) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "coalesce(%s, '{raised,escalated,acknowledged,assigned,resolved,dismissed}'::text[]))",
        (sub_id, channel, target, sealed, key_id, kinds, min_severity, areas, events),
    )
    return sub_id


def _open(sub: dict[str, Any], master_key: bytes | None) -> str | None:
    """The subscription's signing secret, or None when it cannot be opened (no or wrong master key)."""
    if sub.get("secret_enc") is None:
        return sub.get("secret")  # legacy plain text, until seal_plain_secrets ran
    if master_key is None:
        return None
    try:
        return open_secret(master_key, context=_context(sub["id"]), sealed=bytes(sub["secret_enc"]),
                           what=f"secret of subscription {sub['id']}").decode()
    except RegistryError:
        return None


def seal_plain_secrets(conn: psycopg.Connection, *, master_key: bytes) -> int:
    """Seal every legacy plain-text secret with ``master_key`` and clear it; return how many."""
    rows = conn.execute("SELECT id, secret FROM alert_subscriptions WHERE secret IS NOT NULL FOR UPDATE").fetchall()
    key_id = master_key_id(master_key)
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE alert_subscriptions SET secret_enc = %s, master_key_id = %s, secret = NULL WHERE id = %s",
            [(seal_secret(master_key, context=_context(i), secret=str(s).encode()), key_id, i) for i, s in rows])
    return len(rows)


def plain_secret_count(conn: psycopg.Connection) -> int:
    """How many subscriptions still keep a legacy plain-text secret."""
    row = conn.execute("SELECT count(*) FROM alert_subscriptions WHERE secret IS NOT NULL").fetchone()
    return int(row[0]) if row else 0


def rewrap_secrets(conn: psycopg.Connection, *, old_master: bytes, new_master: bytes) -> int:
    """Re-seal every webhook secret with ``new_master`` (all opened first; nothing written if one fails)."""
    rows = conn.execute("SELECT id, secret_enc FROM alert_subscriptions WHERE secret_enc IS NOT NULL "
                        "FOR UPDATE").fetchall()
    opened = [(i, open_secret(old_master, context=_context(i), sealed=bytes(s), what=f"secret of subscription {i}"))
              for i, s in rows]
    key_id = master_key_id(new_master)
    with conn.cursor() as cur:
        cur.executemany("UPDATE alert_subscriptions SET secret_enc = %s, master_key_id = %s WHERE id = %s",
                        [(seal_secret(new_master, context=_context(i), secret=s), key_id, i) for i, s in opened])
    return len(rows)


def list_subscriptions(conn: psycopg.Connection, *, active_only: bool = True) -> list[dict[str, Any]]:
    """Stored subscriptions."""
    sql = "SELECT * FROM alert_subscriptions" + (" WHERE active" if active_only else "") + " ORDER BY id"
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql).fetchall())


def enqueue_for_subscribers(
    conn: psycopg.Connection, *, alert_id: int, event: str, payload: dict[str, Any], at: datetime
) -> int:
    """Queue ``payload`` for every active subscription matching the alert's kind, severity, area and event;
    a customer's subscription (``storage.notices``) also its service point and, for a flow, its own threshold."""
    cur = conn.execute(
        f"""INSERT INTO alert_outbox (subscription_id, alert_id, event, payload, created_at, next_attempt_at)
            SELECT s.id, a.id, %(event)s, %(payload)s, %(at)s, %(at)s
              FROM alert_subscriptions s JOIN alerts a ON a.id = %(alert_id)s
             WHERE s.active AND %(event)s = ANY(s.events)
               AND (s.kinds IS NULL OR a.kind = ANY(s.kinds))
               AND (s.areas IS NULL OR a.area = ANY(s.areas))
               AND array_position({_SEVERITIES}, a.severity) >= array_position({_SEVERITIES}, s.min_severity)
               AND (s.service_point_id IS NULL OR s.service_point_id = a.service_point_id)
               AND (s.leak_threshold_m3h IS NULL OR {_FLOW} IS NULL OR {_FLOW} >= s.leak_threshold_m3h)""",
        {"event": event, "payload": Jsonb(payload), "at": at, "alert_id": alert_id},
    )
    return cur.rowcount


def claim_due(
    conn: psycopg.Connection,
    *,
    now: datetime,
    limit: int = 100,
    lease: timedelta = timedelta(seconds=60),
    master_key: bytes | None = None,
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due messages (with their subscription) and lease them for ``lease``.

    Each subscription's ``secret`` is its opened signing secret, None when ``master_key`` cannot open it (the
    webhook channel then refuses to send unsigned and the attempt is retried later)."""
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
                "SELECT id, channel, target, secret, secret_enc, audience FROM alert_subscriptions "
                "WHERE id = ANY(%s)",
                ([r["subscription_id"] for r in rows],),
            ).fetchall()
        }
    for sub in subs.values():
        sub["secret"] = _open(sub, master_key)
        del sub["secret_enc"]
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
