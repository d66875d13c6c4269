"""``GET /v1/incidents``: alerts of one condition at one service point, grouped (one leak is one incident)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from api.params import INT64_MAX, Name
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
def get_incident(conn: Conn, incident_id: Annotated[int, Path(ge=1, le=INT64_MAX)]) -> IncidentOut:
    """One incident with its alerts' ids and kinds."""
    row = store.get_incident(conn, incident_id=incident_id)
    if row is None:
        raise HTTPException(404, f"incident {incident_id} not found")
    return _out(row)
