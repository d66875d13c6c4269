"""``GET /v1/service-points/{id}/consumption?from=&to=&interval=day``: consumption per period."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, TypeAdapter

from api.auth import CurrentPrincipal, Role, ensure_service_point, require
from api.deps import Conn
from api.etag import NOT_MODIFIED, conditional_body
from api.pagination import CursorParam, Limit, Page, decode_cursor, encode_cursor, link_header
from api.params import Instant, Name, check_range
from storage.queries import ConsumptionPeriod, consumption, service_point_exists

router = APIRouter(prefix="/v1", tags=["consumption"])


class PeriodOut(BaseModel):
    """Consumption in ``[start, end)``."""

    start: datetime
    end: datetime
    consumption_m3: float | None
    estimated: bool
    actual_m3: float
    estimated_m3: float


_PERIODS = TypeAdapter(list[ConsumptionPeriod])


class ConsumptionOut(Page[PeriodOut]):
    """A service point's consumption, continuous across meter replacements."""

    service_point_id: str
    interval: str


@router.get("/service-points/{service_point_id}/consumption", response_model=ConsumptionOut, responses=NOT_MODIFIED,
            dependencies=[require(Role.operations, Role.billing, Role.portal)])
def get_consumption(conn: Conn, principal: CurrentPrincipal, request: Request, service_point_id: Name,
                    start: Annotated[Instant, Query(alias="from")], end: Annotated[Instant, Query(alias="to")],
                    interval: Literal["hour", "day", "week", "month"] = "day", limit: Limit = 1000,
                    cursor: CursorParam = None) -> Response:
    """Per-period consumption (local Europe/Warsaw periods), actual vs estimated; keyset-paged by period.

    The range is capped (``ApiSettings.max_range_days`` for hours and days, ``max_range_days_coarse`` for weeks
    and months). Answers 304 to ``If-None-Match`` with the page's current ``ETag``.
    """
    ensure_service_point(principal, service_point_id)
    conf = request.app.state.api_settings
    check_range(start, end, max_days=conf.max_range_days if interval in ("hour", "day") else
                conf.max_range_days_coarse)
    page_start = start
    if cursor:
        (page_start,) = decode_cursor("consumption", cursor, (datetime,))
        if not start < page_start < end:
            raise HTTPException(422, "invalid cursor: it does not lie inside from/to")
    if not service_point_exists(conn, service_point=service_point_id):
        raise HTTPException(404, f"no service point {service_point_id}")
    periods = consumption(conn, service_point=service_point_id, start=page_start, end=end, interval=interval,
                          limit=limit)
    nxt = encode_cursor("consumption", (periods[-1].end,)) if periods and periods[-1].end < end else None
    # the periods are serialized straight from storage's dataclasses (same fields as PeriodOut, checked in
    # tests/api/test_conventions.py): validating a model per period cost more than computing it
    body = (f'{{"service_point_id":{json.dumps(service_point_id)},"interval":"{interval}",'
            f'"items":{_PERIODS.dump_json(periods).decode()},"next":{json.dumps(nxt)}}}')
    return conditional_body(request, body.encode("utf-8"), link_header(request, nxt))
