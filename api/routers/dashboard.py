"""The operations dashboard's JSON summary and unknown meters (the pages are in ``api.routers.pages``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
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


class UnknownMeterPage(Page[UnknownMeterOut]):
    """Unregistered meters heard, most frames first."""


@router.get("/v1/dashboard/unknown-meters", response_model=UnknownMeterPage,
            dependencies=[require(Role.operations)])
def unknown(conn: Conn, request: Request, response: Response,
            days: Annotated[float, Query(gt=0, le=400)] = 30.0, limit: Limit = 1000,
            cursor: CursorParam = None) -> UnknownMeterPage:
    """Unregistered meters heard in the last ``days``, most frames first (candidates to register)."""
    after = decode_cursor("unknown-meters", cursor, (int, int)) if cursor else None
    rows = unknown_meters(conn, now=datetime.now(UTC), days=days, limit=limit + 1, after=after)
    rows, nxt = page_of(rows, limit, "unknown-meters", lambda r: (r["frames"], r["meter_key"]))
    link_next(request, response, nxt)
    return UnknownMeterPage(items=[UnknownMeterOut(**r) for r in rows], next=nxt)
