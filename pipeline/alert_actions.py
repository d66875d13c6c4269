"""Alert lifecycle actions outside the API (the CLI): one transaction per action with its history event, audit
row and the notifications queued for subscribers of the event. The API does the same in
``api/routers/alert_actions.py`` (it may not import ``pipeline``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from alerts.notify import build_payload
from core.errors import UserError
from storage import alerts as store
from storage import alerts_outbox as outbox
from storage import audit

__all__ = ["ACTIONS", "act"]

ACTIONS: dict[str, str] = {  # CLI verb → alert event
    "ack": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "assign": "assigned",
    "comment": "commented",
}


def _change(conn: psycopg.Connection, verb: str, alert_id: int, at: datetime, actor: str,
            text: str | None) -> Callable[[], bool]:
    if verb == "resolve":
        return lambda: store.resolve(conn, alert_id=alert_id, at=at, actor=actor, resolution=text or "resolved")
    if verb == "dismiss":
        return lambda: store.dismiss(conn, alert_id=alert_id, at=at, actor=actor, reason=text or "")
    if verb == "assign":
        return lambda: store.assign(conn, alert_id=alert_id, at=at, actor=actor, assignee=text or None)
    if verb == "comment":
        return lambda: store.comment(conn, alert_id=alert_id, at=at, actor=actor, text=text or "")
    if verb == "ack":
        def ack() -> bool:
            before = store.get_alert(conn, alert_id=alert_id)
            store.acknowledge(conn, alert_id=alert_id, at=at, actor=actor, note=text)
            return before is not None and before["state"] == "open"
        return ack
    raise ValueError(f"unknown alert action {verb!r}")


def act(db_url: str, verb: str, alert_id: int, *, actor: str, text: str | None = None) -> dict[str, Any]:
    """Apply ``verb`` (ack, resolve, dismiss, assign, comment) to one alert; UserError when it is unknown, closed,
    or the reason/text is missing. Returns the alert after the change."""
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn, conn.transaction():
        before = store.get_alert(conn, alert_id=alert_id)
        if before is None:
            raise UserError(f"alert {alert_id} not found: see 'odczyt alerts list --state all'")
        if verb == "ack" and before["state"] == "acknowledged":
            return before  # acknowledging twice changes nothing
        try:
            changed = _change(conn, verb, alert_id, now, actor, text)()
        except ValueError as exc:
            raise UserError(f"alert {alert_id}: {exc}") from None
        if not changed:
            raise UserError(f"alert {alert_id} is {before['state']}: cannot {verb} it")
        row = store.get_alert(conn, alert_id=alert_id)
        assert row is not None
        event = ACTIONS[verb]
        audit.record(conn, actor=actor, action=f"alert.{verb}", subject=f"alert:{alert_id}",
                     before={"state": before["state"], "assignee": before["assignee"]},
                     after={"state": row["state"], "assignee": row["assignee"], "text": text})
        if event != "commented":
            outbox.enqueue_for_subscribers(conn, alert_id=alert_id, event=event, payload=build_payload(event, row),
                                           at=now)
    return row
