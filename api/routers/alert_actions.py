"""Alert lifecycle actions: resolve, dismiss (false positive, with a reason), assign, comment.

The actor is the caller's credential. Each action is one transaction: the alert change, its history event,
the audit row, and the notifications queued for subscribers of that event (outbox), so nothing is half done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, StringConstraints

from alerts.notify import build_payload
from alerts.subject import links
from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from api.params import Name, Note, PathId
from storage import alerts as store
from storage import alerts_outbox as outbox
from storage import audit

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[require(Role.operations)])
AlertId = PathId
VERB = {"acknowledged": "ack", "resolved": "resolve", "dismissed": "dismiss", "assigned": "assign",
        "commented": "comment"}  # audit action of each event
# not blank, no NUL anywhere (a bare \S would match the NUL itself: the fuzzer's 500 from PostgreSQL)
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$")]


class AlertSubjectOut(BaseModel):
    """An alert as a dispatcher acts on it: what, where, which meter, who has it, and where to drill down."""

    id: int
    kind: str
    state: str
    severity: str
    subject: str
    manufacturer: str | None
    meter_id: str | None
    service_point_id: str | None
    address: str | None
    customer_ref: str | None
    area: str | None
    gateway_id: str | None
    incident_id: int | None
    assignee: str | None
    detected_at: datetime
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    dismissed_by: str | None
    dismiss_reason: str | None
    links: dict[str, str]


class ResolveIn(BaseModel):
    """How the condition was dealt with (free text, e.g. 'leak repaired by the customer')."""

    note: Note | None = None


class DismissIn(BaseModel):
    """Why the alert is a false positive (required)."""

    reason: Reason


class AssignIn(BaseModel):
    """Who takes the alert (a user name); null gives it back to the queue."""

    assignee: Name | None


class CommentIn(BaseModel):
    """A remark for the alert's history."""

    text: Reason


def subject_out(row: dict[str, Any]) -> AlertSubjectOut:
    """The response model of an alert row from ``storage.alerts``."""
    fields = {k: row.get(k) for k in AlertSubjectOut.model_fields if k != "links"}
    return AlertSubjectOut.model_validate({**fields, "links": links(row)})


def notify(conn: psycopg.Connection, row: dict[str, Any], event: str, at: datetime) -> int:
    """Queue ``event`` of the alert for every matching subscription (same transaction as the change)."""
    return outbox.enqueue_for_subscribers(conn, alert_id=row["id"], event=event, payload=build_payload(event, row),
                                          at=at)


def apply_action(conn: psycopg.Connection, *, actor: str, rid: str, alert_id: int, event: str,
                 change: Callable[[datetime], bool], detail: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """In the caller's transaction: ``change`` one alert, then its audit row and the notices of ``event``;
    None when the alert is unknown or ``change`` did not apply (its state does not allow it)."""
    before = store.get_alert(conn, alert_id=alert_id)
    if before is None or not change(now):
        return None
    row = store.get_alert(conn, alert_id=alert_id)
    assert row is not None
    audit.record(conn, actor=actor, action=f"alert.{VERB[event]}", subject=f"alert:{alert_id}",
                 before={"state": before["state"], "assignee": before["assignee"]},
                 after={"state": row["state"], "assignee": row["assignee"], **detail}, request_id=rid)
    if event != "commented":
        notify(conn, row, event, now)
    return row


def _act(conn: psycopg.Connection, request: Request, actor: str, alert_id: int, event: str,
         change: Callable[[datetime], bool], detail: dict[str, Any]) -> AlertSubjectOut:
    """Apply ``change``; 404 for an unknown alert, 409 when its state does not allow it; audit and notify."""
    with conn.transaction():
        before = store.get_alert(conn, alert_id=alert_id)
        if before is None:
            raise HTTPException(404, f"alert {alert_id} not found")
        row = apply_action(conn, actor=actor, rid=request_id(request), alert_id=alert_id, event=event,
                           change=change, detail=detail, now=datetime.now(UTC))
        if row is None:
            raise HTTPException(409, f"alert {alert_id} is {before['state']}: cannot be {event}")
    return subject_out(row)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertSubjectOut)
def resolve(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: AlertId,
            body: ResolveIn | None = None) -> AlertSubjectOut:
    """Resolve an open or acknowledged alert as the caller (409 when it is already closed)."""
    note = (body.note if body else None) or "resolved by operator"
    return _act(conn, request, principal.actor, alert_id, "resolved",
                lambda at: store.resolve(conn, alert_id=alert_id, at=at, resolution=note, actor=principal.actor),
                {"resolution": note})


@router.post("/alerts/{alert_id}/dismiss", response_model=AlertSubjectOut)
def dismiss(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: AlertId,
            body: DismissIn) -> AlertSubjectOut:
    """Close an open or acknowledged alert as a false positive; the reason is required."""
    return _act(conn, request, principal.actor, alert_id, "dismissed",
                lambda at: store.dismiss(conn, alert_id=alert_id, at=at, actor=principal.actor, reason=body.reason),
                {"reason": body.reason})


@router.post("/alerts/{alert_id}/assign", response_model=AlertSubjectOut)
def assign(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: AlertId,
           body: AssignIn) -> AlertSubjectOut:
    """Give an unresolved alert to a user (or back to the queue with ``null``)."""
    return _act(conn, request, principal.actor, alert_id, "assigned",
                lambda at: store.assign(conn, alert_id=alert_id, at=at, actor=principal.actor,
                                        assignee=body.assignee),
                {"assignee": body.assignee})


@router.post("/alerts/{alert_id}/comments", response_model=AlertSubjectOut, status_code=201)
def comment(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: AlertId,
            body: CommentIn) -> AlertSubjectOut:
    """Add a comment to the alert's history (any state)."""
    return _act(conn, request, principal.actor, alert_id, "commented",
                lambda at: store.comment(conn, alert_id=alert_id, at=at, actor=principal.actor, text=body.text),
                {"comment": body.text})
