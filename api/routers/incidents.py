"""``GET /v1/incidents``: alerts of one condition at one service point, grouped (one leak is one incident), and
``POST /v1/incidents/{id}/ack|resolve|dismiss|assign``: the action on every unresolved alert of it at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from api.params import Name, Note, PathId
from api.routers.alert_actions import apply_action
from storage import alerts as store_alerts
from storage import incidents as store

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[require(Role.operations)])
IncidentState = Literal["open", "acknowledged", "resolved", "dismissed"]


class IncidentOut(BaseModel):
    """One incident: its condition, where, its state derived from its alerts, and those alerts."""

    id: int
    condition: str
    scope: str
    service_point_id: str | None
    address: str | None
    customer_ref: str | None
    area: str | None
    state: IncidentState
    severity: str
    opened_at: datetime
    closed_at: datetime | None
    alert_ids: list[int]
    kinds: list[str]
    links: dict[str, str]


class IncidentPage(Page[IncidentOut]):
    """Incidents newest first; ``next`` is the cursor of the following page (null on the last)."""


def _out(row: dict) -> IncidentOut:  # type: ignore[type-arg]
    link = {"self": f"/v1/incidents/{row['id']}", "alerts": f"/v1/alerts?incident_id={row['id']}"}
    if row["service_point_id"]:
        link["service_point_ui"] = f"/ui/service-points/{row['service_point_id']}"
    return IncidentOut(**{**row, "alert_ids": row["alert_ids"] or [], "kinds": row["kinds"] or []}, links=link)


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    conn: Conn,
    request: Request,
    response: Response,
    state: IncidentState | None = None,
    condition: Name | None = None,
    service_point_id: Name | None = None,
    area: Name | None = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> IncidentPage:
    """Incidents newest first, filtered by state, condition ('leak', 'burst', or an alert kind), service point,
    area; ``cursor`` is the previous page's ``next``."""
    before_id = decode_cursor("incidents", cursor, (int,))[0] if cursor else None
    rows = store.list_incidents(conn, state=state, condition=condition, service_point_id=service_point_id,
                                area=area, limit=limit + 1, before_id=before_id)
    rows, nxt = page_of(rows, limit, "incidents", lambda r: (r["id"],))
    link_next(request, response, nxt)
    return IncidentPage(items=[_out(r) for r in rows], next=nxt)


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
def get_incident(conn: Conn, incident_id: PathId) -> IncidentOut:
    """One incident with its alerts' ids and kinds."""
    row = store.get_incident(conn, incident_id=incident_id)
    if row is None:
        raise HTTPException(404, f"incident {incident_id} not found")
    return _out(row)


class IncidentActionIn(BaseModel):
    """What an action on the whole incident needs: a note (ack, resolve), a reason (dismiss), an assignee."""

    note: Note | None = None
    reason: Note | None = None
    assignee: Name | None = None


def _change(conn: Any, action: str, alert_id: int, actor: str, body: IncidentActionIn) -> Any:
    if action == "ack":
        return lambda at: store_alerts.acknowledge(conn, alert_id=alert_id, at=at, actor=actor, note=body.note)[
            "state"] == "acknowledged"  # type: ignore[index]
    if action == "resolve":
        return lambda at: store_alerts.resolve(conn, alert_id=alert_id, at=at, actor=actor,
                                               resolution=body.note or "resolved by operator")
    if action == "dismiss":
        return lambda at: store_alerts.dismiss(conn, alert_id=alert_id, at=at, actor=actor, reason=body.reason or "")
    return lambda at: store_alerts.assign(conn, alert_id=alert_id, at=at, actor=actor, assignee=body.assignee)


_EVENT = {"ack": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "assign": "assigned"}


@router.post("/incidents/{incident_id}/{action}", response_model=IncidentOut)
def act_on_incident(conn: Conn, principal: CurrentPrincipal, request: Request,
                    incident_id: PathId,
                    action: Literal["ack", "resolve", "dismiss", "assign"],
                    body: IncidentActionIn | None = None) -> IncidentOut:
    """Acknowledge, resolve, dismiss (reason required) or assign every unresolved alert of the incident at once
    (each audited and notified as if done one by one); 409 when none is left to change."""
    body = body or IncidentActionIn()
    if action == "dismiss" and not (body.reason or "").strip():
        raise HTTPException(422, "dismissing needs a reason")
    now = datetime.now(UTC)
    with conn.transaction():
        incident = store.get_incident(conn, incident_id=incident_id)
        if incident is None:
            raise HTTPException(404, f"incident {incident_id} not found")
        states = ("open",) if action == "ack" else ("open", "acknowledged")
        changed = 0
        for alert_id in incident["alert_ids"] or []:
            row = store_alerts.get_alert(conn, alert_id=alert_id)
            if row is None or row["state"] not in states:
                continue
            done = apply_action(conn, actor=principal.actor, rid=request_id(request), alert_id=alert_id,
                                event=_EVENT[action], change=_change(conn, action, alert_id, principal.actor, body),
                                detail=body.model_dump(exclude_none=True), now=now)
            changed += done is not None
        if not changed:
            raise HTTPException(409, f"incident {incident_id} has no alert to {action}")
        row = store.get_incident(conn, incident_id=incident_id)
    assert row is not None
    return _out(row)
