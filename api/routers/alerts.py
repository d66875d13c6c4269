"""Alerts: list and filter, one alert with its history, acknowledge, and the dashboard's counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from storage import alerts as store
from storage import audit

router = APIRouter(tags=["alerts"], dependencies=[require(Role.operations)])
State = Literal["open", "acknowledged", "resolved"]


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str
    meter_key: int | None
    service_point_id: str | None
    area: str | None
    severity: str
    state: State
    evidence: dict[str, Any]
    detected_at: datetime
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolution: str | None


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

    note: str | None = None


class AlertSummaryOut(BaseModel):
    open: int
    acknowledged: int
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    rows: list[dict[str, Any]]


def _out(row: dict[str, Any]) -> AlertOut:
    return AlertOut(**{k: row[k] for k in AlertOut.model_fields})


@router.get("/v1/alerts", response_model=list[AlertOut])
def list_alerts(
    conn: Conn,
    state: State | None = None,
    kind: str | None = None,
    severity: str | None = None,
    area: str | None = None,
    meter_key: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> list[AlertOut]:
    """Alerts, newest first, filtered by state, kind, severity, area or meter."""
    rows = store.list_alerts(
        conn, state=state, kind=kind, severity=severity, area=area, meter_key=meter_key, limit=limit, offset=offset
    )
    return [_out(r) for r in rows]


@router.get("/v1/alerts/{alert_id}", response_model=AlertDetailOut)
def get_alert(conn: Conn, alert_id: int) -> AlertDetailOut:
    """One alert with its lifecycle history and evidence."""
    row = store.get_alert(conn, alert_id=alert_id)
    if row is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    history = [EventOut(**e) for e in store.alert_history(conn, alert_id=alert_id)]
    return AlertDetailOut(**_out(row).model_dump(), history=history)


@router.post("/v1/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(conn: Conn, principal: CurrentPrincipal, request: Request, alert_id: int,
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
