"""``GET /v1/meters``: the meter registry with legalization validity and current service point."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from storage.queries import list_meters

router = APIRouter(prefix="/v1", tags=["meters"])


class MeterOut(BaseModel):
    """One registered meter (``meter_key``: the internal key alerts and exports also carry)."""

    manufacturer: str
    meter_id: str
    meter_key: int
    version: int | None
    device_type: int | None
    model: str | None
    driver: str | None
    q3_m3h: float | None
    read_mode: str
    legalization_mark_type: str | None
    legalization_mark_value: str | None
    legalized_on: date | None
    legal_valid_until: date | None
    service_point_id: str | None
    last_reading_at: datetime | None


class MeterPage(Page[MeterOut]):
    """A page of meters in (manufacturer, id) order (docs/api.md "Conventions")."""


@router.get("/meters", response_model=MeterPage, dependencies=[require(Role.operations, Role.billing)])
def get_meters(conn: Conn, request: Request, response: Response, limit: Limit = 1000,
               cursor: CursorParam = None) -> MeterPage:
    """Registered meters, ordered by manufacturer and id; keyset-paged."""
    after = decode_cursor("meters", cursor, (str, str)) if cursor else None
    rows = list_meters(conn, limit=limit + 1, after=after)
    rows, nxt = page_of(rows, limit, "meters", lambda m: (m.manufacturer, m.meter_id))
    link_next(request, response, nxt)
    return MeterPage(items=[MeterOut.model_validate(m, from_attributes=True) for m in rows], next=nxt)
