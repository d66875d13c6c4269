"""The operations dashboard: a small HTML page at ``/`` and its JSON summary."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.auth import Role, public, require
from api.deps import Conn
from storage.dashboard import PipelineSummary, pipeline_summary, unknown_meters

router = APIRouter(tags=["dashboard"])


@router.get("/v1/dashboard/summary", response_model=PipelineSummary, dependencies=[require(Role.operations)])
def summary(conn: Conn) -> PipelineSummary:
    """Meters heard, readings stored, frames not yet decodable, dead letters, data freshness."""
    return pipeline_summary(conn)


class UnknownMeterOut(BaseModel):
    """A meter heard but not in the registry: a candidate to register (its manufacturer and id as sent)."""

    manufacturer: str
    meter_id: str
    meter_key: int
    frames: int
    receptions: int
    first_heard_at: datetime
    last_heard_at: datetime
    best_rssi_dbm: float | None
    gateways: list[str]


@router.get("/v1/dashboard/unknown-meters", response_model=list[UnknownMeterOut],
            dependencies=[require(Role.operations)])
def unknown(conn: Conn, days: Annotated[float, Query(gt=0, le=400)] = 30.0,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[UnknownMeterOut]:
    """Unregistered meters heard in the last ``days``, most frames first (candidates to register)."""
    return [UnknownMeterOut(**r) for r in unknown_meters(conn, now=datetime.now(UTC), days=days, limit=limit)]


@router.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def page() -> HTMLResponse:
    """The dashboard page: static HTML without data (public); the JSON endpoints it polls need a login."""
    return HTMLResponse(resources.files("api").joinpath("static/dashboard.html").read_text(encoding="utf-8"))
