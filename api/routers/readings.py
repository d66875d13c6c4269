"""``GET /v1/meters/{meter_id}/readings?from=&to=``: one meter's readings in a time range."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel

from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn
from api.etag import NOT_MODIFIED, conditional_body
from api.pagination import CursorParam, Limit, Page, decode_cursor, encode_cursor, link_header
from api.params import EARLIEST, LATEST, Instant, check_range
from storage.auth import meter_in_scope
from storage.queries import find_meters
from storage.queries_json import meter_readings_json

router = APIRouter(prefix="/v1", tags=["readings"])
LATEST_DAYS = (LATEST - EARLIEST).days  # any range: paging bounds the work, not the range


class ReadingOut(BaseModel):
    """One stored reading."""

    measured_at: datetime
    received_at: datetime
    total_m3: float | None
    target_m3: float | None
    target_date: date | None
    backward_m3: float | None
    flow_m3h: float | None
    alarms: list[str]
    source: str
    access_number: int | None


class MeterReadingsOut(Page[ReadingOut]):
    """A page of one meter's readings, oldest first (docs/api.md "Conventions")."""

    manufacturer: str
    meter_id: str


@router.get("/meters/{meter_id}/readings", response_model=MeterReadingsOut, responses=NOT_MODIFIED,
            dependencies=[require(Role.operations, Role.billing, Role.portal)])
def get_readings(conn: Conn, principal: CurrentPrincipal, request: Request,
                 meter_id: Annotated[str, Path(pattern=r"^[0-9A-Fa-f]{8}$")],
                 start: Annotated[Instant, Query(alias="from")], end: Annotated[Instant, Query(alias="to")],
                 manufacturer: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
                 limit: Limit = 1000, cursor: CursorParam = None) -> Response:
    """Readings with ``from <= measured_at < to``, keyset-paged; ``manufacturer`` picks one of meters sharing
    an id. Answers 304 to ``If-None-Match`` with the page's current ``ETag``."""
    check_range(start, end, max_days=LATEST_DAYS)
    after = decode_cursor("readings", cursor, (datetime,)) if cursor else None
    meters = find_meters(conn, meter_id=meter_id, manufacturer=manufacturer)
    scope = principal.service_point_scope
    if scope is not None:  # a scoped caller sees only its meters, and learns nothing about the others
        meters = [m for m in meters if meter_in_scope(conn, meter_key=m.meter_key, service_points=scope,
                                                      start=start, end=end)]
        if not meters:
            raise HTTPException(403, f"{principal.actor} may not read meter {meter_id} over this range")
    if not meters:
        raise HTTPException(404, f"no meter {meter_id}" + (f" of {manufacturer}" if manufacturer else ""))
    if len(meters) > 1:
        options = ", ".join(m.manufacturer for m in meters)
        raise HTTPException(409, f"meter id {meter_id} is used by several manufacturers ({options}); "
                                 "add ?manufacturer=")
    m = meters[0]
    page = meter_readings_json(conn, meter_key=m.meter_key, start=start, end=end, limit=limit,
                               after=after[0] if after else None)
    nxt = encode_cursor("readings", (page.last_at,)) if page.more and page.last_at is not None else None
    body = (f'{{"manufacturer":{json.dumps(m.manufacturer)},"meter_id":{json.dumps(m.meter_id)},'
            f'"items":{page.items},"next":{json.dumps(nxt)}}}')
    return conditional_body(request, body.encode("utf-8"), link_header(request, nxt))
