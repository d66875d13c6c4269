"""Customer notices: a customer's own subscription to leak notices at their service point, with consent recorded.

A customer subscription is an ``alert_subscriptions`` row with ``audience = 'customer'``, bound to one service
point, with the customer's own contact (an e-mail address or a phone number for SMS) and optionally their own
leak threshold (m³/h): notices go through the same outbox, retries and dead letters as the staff channels
(``storage.alerts_outbox``). Every opt-in and opt-out is kept in ``notice_consents`` with its time and source
(e-BOK, phone call, paper form, an SMS reply …), as a consent register must.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.errors import RegistryError

LEAK_KINDS = ("continuous_flow", "night_flow", "burst", "meter_leak", "meter_burst")
CUSTOMER_EVENTS = ("raised", "resolved")
_COLUMNS = ("s.id, s.service_point_id, sp.address, sp.customer_ref, s.channel, s.target, s.kinds, s.events, "
            "s.leak_threshold_m3h, s.active, s.opted_in_at, s.opted_out_at, s.consent_source, s.created_at")


def _consent(conn: psycopg.Connection, subscription_id: int, action: str, source: str, at: datetime) -> None:
    conn.execute("INSERT INTO notice_consents (subscription_id, at, action, source) VALUES (%s, %s, %s, %s)",
                 (subscription_id, at, action, source))


def subscribe(
    conn: psycopg.Connection,
    *,
    service_point_id: str,
    channel: str,
    contact: str,
    source: str,
    at: datetime,
    leak_threshold_m3h: float | None = None,
    kinds: tuple[str, ...] = LEAK_KINDS,
) -> int:
    """Opt a customer in to notices at ``service_point_id`` by ``channel`` ('email' or 'sms') to ``contact``."""
    if channel not in ("email", "sms"):
        raise RegistryError(f"customer notices go by e-mail or SMS, not {channel!r}")
    if not source.strip():
        raise RegistryError("an opt-in needs its source (e-BOK, phone call, paper form …)")
    if conn.execute("SELECT 1 FROM service_points WHERE id = %s", (service_point_id,)).fetchone() is None:
        raise RegistryError(f"no service point {service_point_id!r}")
    row = conn.execute(
        "INSERT INTO alert_subscriptions (channel, target, kinds, min_severity, events, audience, service_point_id, "
        "leak_threshold_m3h, opted_in_at, consent_source) "
        "VALUES (%s, %s, %s, 'info', %s, 'customer', %s, %s, %s, %s) RETURNING id",
        (channel, contact, list(kinds), list(CUSTOMER_EVENTS), service_point_id, leak_threshold_m3h, at, source),
    ).fetchone()
    assert row is not None
    _consent(conn, int(row[0]), "opt_in", source, at)
    return int(row[0])


def _consent_change(conn: psycopg.Connection, subscription_id: int, change: str, source: str, at: datetime,
                    sql: str) -> bool:
    """Run an opt-in/out UPDATE taking (at, source, id); if it changed the subscription, record the consent."""
    cur = conn.execute(sql, (at, source, subscription_id))
    if cur.rowcount:
        _consent(conn, subscription_id, change, source, at)
    return bool(cur.rowcount)


def opt_out(conn: psycopg.Connection, *, subscription_id: int, source: str, at: datetime) -> bool:
    """Stop a customer's notices (kept, inactive, with the opt-out recorded); False if not an active one."""
    return _consent_change(
        conn, subscription_id, "opt_out", source, at,
        "UPDATE alert_subscriptions SET active = false, opted_out_at = %s, consent_source = %s "
        "WHERE id = %s AND audience = 'customer' AND active")


def opt_in_again(conn: psycopg.Connection, *, subscription_id: int, source: str, at: datetime) -> bool:
    """Resume an opted-out customer subscription; False if it is active already or not a customer's."""
    return _consent_change(
        conn, subscription_id, "opt_in", source, at,
        "UPDATE alert_subscriptions SET active = true, opted_in_at = %s, opted_out_at = NULL, consent_source = %s "
        "WHERE id = %s AND audience = 'customer' AND NOT active")


def list_subscriptions(conn: psycopg.Connection, *, service_point_id: str | None = None, limit: int | None = None,
                       after_id: int | None = None) -> list[dict[str, Any]]:
    """Customer subscriptions (all, or of one service point) by id, with their service point's address;
    ``after_id`` is the keyset position of the previous page."""
    sql = (f"SELECT {_COLUMNS} FROM alert_subscriptions s JOIN service_points sp ON sp.id = s.service_point_id "
           "WHERE s.audience = 'customer' AND (%(sp)s::text IS NULL OR s.service_point_id = %(sp)s) "
           "AND (%(after)s::bigint IS NULL OR s.id > %(after)s) ORDER BY s.id LIMIT %(limit)s")
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, {"sp": service_point_id, "after": after_id, "limit": limit}).fetchall())


def get_subscription(conn: psycopg.Connection, *, subscription_id: int) -> dict[str, Any] | None:
    """One customer subscription."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM alert_subscriptions s JOIN service_points sp ON sp.id = s.service_point_id "
            "WHERE s.audience = 'customer' AND s.id = %s", (subscription_id,)).fetchone()


def consents(conn: psycopg.Connection, *, subscription_id: int) -> list[dict[str, Any]]:
    """The consent history of one subscription, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute("SELECT at, action, source FROM notice_consents WHERE subscription_id = %s "
                                "ORDER BY at, id", (subscription_id,)).fetchall())
