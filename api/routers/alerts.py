"""Alerts: list and filter, one alert with its history, acknowledge, and the dashboard's counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel

from alerts.subject import links
from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from api.params import Key, Name, Note, PathId
from api.routers.alert_actions import notify
from storage import alerts as store
from storage import audit

router = APIRouter(tags=["alerts"], dependencies=[require(Role.operations)])
State = Literal["open", "acknowledged", "resolved", "dismissed"]
AlertId = PathId
Sort = Literal["-opened_at", "opened_at", "-severity", "state", "kind", "area"]
_CURSOR_TYPES: dict[str, tuple[type, ...]] = {
    "-opened_at": (datetime, int), "opened_at": (datetime, int), "-severity": (int, datetime, int),
    "state": (int, datetime, int), "kind": (str, datetime, int), "area": (str, datetime, int)}


class AlertOut(BaseModel):
    """An alert naming its subject: meter (manufacturer + id, and the internal key), service point, address,
    customer reference, area or gateway; its incident, assignee, lifecycle, and drill-down links."""

    id: int
    kind: str
    subject: str
    meter_key: int | None
    manufacturer: str | None
    meter_id: str | None
    service_point_id: str | None
    address: str | None
    customer_ref: str | None
    area: str | None
    gateway_id: str | None
    incident_id: int | None
    severity: str
    state: State
    evidence: dict[str, Any]
    detected_at: datetime
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    assigned_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str | None
    links: dict[str, str]


class EventOut(BaseModel):
    at: datetime
    event: str
    actor: str
    severity: str | None
    evidence: dict[str, Any] | None
    note: str | None


class AlertDetailOut(AlertOut):
    history: list[EventOut]


class AckIn(BaseModel):
    """The acknowledging actor is the caller's credential, never a body field."""

    note: Note | None = None


class AlertSummaryOut(BaseModel):
    open: int
    acknowledged: int
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    rows: list[dict[str, Any]]


def _out(row: dict[str, Any]) -> AlertOut:
    return AlertOut(**{k: row[k] for k in AlertOut.model_fields if k != "links"}, links=links(row))


class AlertPage(Page[AlertOut]):
    """A page of alerts in the requested order (docs/api.md "Conventions")."""


@router.get("/v1/alerts", response_model=AlertPage)
def list_alerts(
    conn: Conn,
    request: Request,
    response: Response,
    state: State | None = None,
    kind: Name | None = None,
    severity: Name | None = None,
    area: Name | None = None,
    meter_key: Annotated[Key | None, Query()] = None,
    service_point_id: Name | None = None,
    manufacturer: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
    meter_id: Annotated[str | None, Query(pattern=r"^[0-9A-Fa-f]{8}$")] = None,
    assignee: Name | None = None,
    gateway_id: Name | None = None,
    incident_id: Annotated[Key | None, Query()] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
    sort: Annotated[Sort, Query(description="`-opened_at` newest first (default), `opened_at` oldest first, "
                                "`-severity` critical first, `state` open › acknowledged › resolved › dismissed, "
                                "`kind`, `area` (A–Z, no area first); ties newest first. A cursor belongs to its "
                                "sort (another sort's cursor is a 422).")] = "-opened_at",
) -> AlertPage:
    """Alerts, newest first or in the order ``sort``, filtered by state, kind, severity, area, meter
    (``manufacturer`` + ``meter_id`` or ``meter_key``), service point, assignee, gateway or incident;
    keyset-paged."""
    # the default sort keeps the list name "alerts", so cursors handed out before sorting existed still work
    list_name = "alerts" if sort == "-opened_at" else f"alerts{sort}"
    after = decode_cursor(list_name, cursor, _CURSOR_TYPES[sort]) if cursor else None
    rows = store.list_alerts(conn, state=state, kind=kind, severity=severity, area=area, meter_key=meter_key,
                             service_point_id=service_point_id, manufacturer=manufacturer, meter_id=meter_id,
                             assignee=assignee, gateway_id=gateway_id, incident_id=incident_id,
                             limit=limit + 1, after=after, sort=sort)
    rows, nxt = page_of(rows, limit, list_name, lambda r: store.sort_key(sort, r))
    link_next(request, response, nxt)
    return AlertPage(items=[_out(r) for r in rows], next=nxt)


@router.get("/v1/alerts/{alert_id}", response_model=AlertDetailOut)
def get_alert(conn: Conn, alert_id: AlertId) -> AlertDetailOut:
    """One alert with its lifecycle history and evidence."""
    row = store.get_alert(conn, alert_id=alert_id)
    if row is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    history = [EventOut(**e) for e in store.alert_history(conn, alert_id=alert_id)]
    return AlertDetailOut(**_out(row).model_dump(), history=history)


@router.post("/v1/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: AlertId,
                body: AckIn | None = None) -> AlertOut:
    """Acknowledge an open alert as the caller (idempotent for an acknowledged one; 409 for a resolved one)."""
    body = body or AckIn()
    with conn.transaction():
        before = store.get_alert(conn, alert_id=alert_id)
        row = store.acknowledge(conn, alert_id=alert_id, at=datetime.now(UTC), actor=principal.actor,
                                note=body.note)
        if before is not None and before["state"] == "open" and row is not None:
            audit.record(conn, actor=principal.actor, action="alert.ack", subject=f"alert:{alert_id}",
                         before={"state": before["state"]},
                         after={"state": row["state"], "note": body.note}, request_id=request_id(request))
            notify(conn, row, "acknowledged", datetime.now(UTC))
    if row is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    if row["state"] == "resolved":
        raise HTTPException(409, f"alert {alert_id} is already resolved")
    return _out(row)


@router.get("/v1/dashboard/alerts", response_model=AlertSummaryOut)
def dashboard(conn: Conn) -> AlertSummaryOut:
    """Unresolved alerts counted by kind and severity (and the kind × severity × state rows)."""
    rows = store.summary(conn)
    by_kind: dict[str, int] = {}
    by_sev: dict[str, int] = {}
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["n"]
        by_sev[r["severity"]] = by_sev.get(r["severity"], 0) + r["n"]
    return AlertSummaryOut(
        open=sum(r["n"] for r in rows if r["state"] == "open"),
        acknowledged=sum(r["n"] for r in rows if r["state"] == "acknowledged"),
        by_kind=by_kind,
        by_severity=by_sev,
        rows=rows,
    )
