"""``GET /v1/gateways`` (registry and health from the status topic), one gateway, the meters it hears and at
what RSSI, and a meter's coverage (its best and usual gateway)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from core.ids import meter_key
from storage import audit
from storage import gateways as store

router = APIRouter(prefix="/v1", tags=["gateways"], dependencies=[require(Role.operations)])
GatewayId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00/]+$")]
Days = Annotated[float, Query(gt=0, le=90)]


class GatewayOut(BaseModel):
    """A gateway as its newest status message describes it."""

    id: str
    state: Literal["online", "offline"]
    reason: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    last_heartbeat_at: datetime | None
    state_changed_at: datetime
    heartbeat_s: float | None
    uptime_s: float | None
    frames_per_min: float | None
    spool_depth: int | None
    spool_max: int | None
    spool_dropped: int | None
    receiver: str | None
    link_mode: str | None
    firmware: str | None
    mqtt_protocol: str | None
    lat: float | None
    lon: float | None
    open_alerts: int = 0


class GatewayDetailOut(GatewayOut):
    """One gateway with its newest status document as received."""

    status: dict[str, Any]


class ReceptionOut(BaseModel):
    """How one gateway hears one meter over the window."""

    manufacturer: str
    meter_id: str
    registered: bool  # False: heard but not in the meter registry
    meter_key: int
    gateway_id: str
    frames: int
    median_rssi_dbm: float | None
    max_rssi_dbm: float | None
    last_heard_at: datetime
    gateways: int  # how many gateways hear this meter
    usual: bool  # this gateway delivers most of the meter's frames
    best: bool  # this gateway hears the meter strongest (median RSSI)


class GatewayPage(Page[GatewayOut]):
    """A page of gateways by id (docs/api.md "Conventions")."""


class ReceptionPage(Page[ReceptionOut]):
    """A page of receptions, strongest first (docs/api.md "Conventions")."""


@router.get("/gateways", response_model=GatewayPage)
def list_gateways(conn: Conn, request: Request, response: Response,
                  state: Literal["online", "offline"] | None = None, limit: Limit = 1000,
                  cursor: CursorParam = None) -> GatewayPage:
    """Every gateway: state (offline with the last-will reason), last seen, frames/min, spool, receiver."""
    after = decode_cursor("gateways", cursor, (str,))[0] if cursor else None
    rows = store.list_gateways(conn, state=state, limit=limit + 1, after=after)
    rows, nxt = page_of(rows, limit, "gateways", lambda r: (r["id"],))
    link_next(request, response, nxt)
    return GatewayPage(items=[GatewayOut(**r) for r in rows], next=nxt)


@router.get("/gateways/{gateway_id}", response_model=GatewayDetailOut)
def get_gateway(conn: Conn, gateway_id: GatewayId) -> GatewayDetailOut:
    """One gateway with its newest status document."""
    row = store.get_gateway(conn, gateway_id=gateway_id)
    if row is None:
        raise HTTPException(404, f"gateway {gateway_id} not found")
    rows = store.list_gateways(conn)
    open_alerts = next((r["open_alerts"] for r in rows if r["id"] == gateway_id), 0)
    return GatewayDetailOut(**row, open_alerts=open_alerts)


class PositionIn(BaseModel):
    """Where the gateway is mounted (WGS 84)."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


@router.put("/gateways/{gateway_id}/position", response_model=GatewayDetailOut)
def set_position(conn: Conn, principal: CurrentPrincipal, request: Request, gateway_id: GatewayId,
                 body: PositionIn) -> GatewayDetailOut:
    """Record where a gateway is mounted (fixed gateways have no GPS; a heartbeat's own position wins)."""
    with conn.transaction():
        before = store.get_gateway(conn, gateway_id=gateway_id)
        if before is None or not store.set_position(conn, gateway_id=gateway_id, lat=body.lat, lon=body.lon):
            raise HTTPException(404, f"gateway {gateway_id} not found")
        audit.record(conn, actor=principal.actor, action="gateway.position", subject=f"gateway:{gateway_id}",
                     before={"lat": before["lat"], "lon": before["lon"]}, after=body.model_dump(),
                     request_id=request_id(request))
    return get_gateway(conn, gateway_id)


@router.get("/gateways/{gateway_id}/meters", response_model=ReceptionPage)
def gateway_meters(conn: Conn, request: Request, response: Response, gateway_id: GatewayId, days: Days = 7.0,
                   limit: Limit = 1000, cursor: CursorParam = None) -> ReceptionPage:
    """Meters this gateway heard in the last ``days``, strongest first, with whether it is their usual and
    best gateway."""
    if store.get_gateway(conn, gateway_id=gateway_id) is None:
        raise HTTPException(404, f"gateway {gateway_id} not found")
    after = decode_cursor("gateway-meters", cursor, (float, int)) if cursor else None
    rows = store.gateway_meters(conn, gateway_id=gateway_id, now=datetime.now(UTC), days=days, limit=limit + 1,
                                after=after)
    rows, nxt = page_of(rows, limit, "gateway-meters", lambda r: (store.rssi_sort_key(r), r["meter_key"]))
    link_next(request, response, nxt)
    return ReceptionPage(items=[ReceptionOut(**r) for r in rows], next=nxt)


@router.get("/coverage/meters/{manufacturer}/{meter_id}", response_model=ReceptionPage)
def meter_coverage(conn: Conn, request: Request, response: Response,
                   manufacturer: Annotated[str, Path(pattern=r"^[A-Za-z]{3}$")],
                   meter_id: Annotated[str, Path(pattern=r"^[0-9A-Fa-f]{8}$")], days: Days = 7.0,
                   limit: Limit = 1000, cursor: CursorParam = None) -> ReceptionPage:
    """Every gateway that heard the meter in the last ``days``, best first (usual and best marked); registered
    or not (an unknown meter heard is a candidate to register)."""
    after = decode_cursor("coverage", cursor, (float, str)) if cursor else None
    rows = store.meter_coverage(conn, meter_key=meter_key(manufacturer.upper(), meter_id.upper()),
                                now=datetime.now(UTC), days=days,
                                limit=limit + 1, after=after)
    rows, nxt = page_of(rows, limit, "coverage", lambda r: (store.rssi_sort_key(r), r["gateway_id"]))
    link_next(request, response, nxt)
    return ReceptionPage(items=[ReceptionOut(**r) for r in rows], next=nxt)
