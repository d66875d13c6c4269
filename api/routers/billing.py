"""``GET /v1/billing/readings?at=…``: every meter's state at a billing cut-off."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, TypeAdapter

from api.auth import Role, require
from api.deps import Conn
from api.etag import NOT_MODIFIED, conditional_body
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_header, page_of
from api.params import Day, Instant
from storage.queries import BillingReading, billing_readings

router = APIRouter(prefix="/v1", tags=["billing"])


class BillingReadingOut(BaseModel):
    """A meter at the cut-off: last reading at or before it, and the meter's stored target value."""

    manufacturer: str
    meter_id: str
    service_point_id: str | None
    reading_at: datetime | None
    total_m3: float | None
    actual: bool | None
    target_date: date
    target_m3: float | None
    billing_m3: float | None
    basis: str
    legal_valid_until: date | None
    legally_valid: bool | None


_ROWS = TypeAdapter(list[BillingReading])


class BillingPage(Page[BillingReadingOut]):
    """A page of meters at the cut-off, in (manufacturer, id) order (docs/api.md "Conventions")."""


@router.get("/billing/readings", response_model=BillingPage, responses=NOT_MODIFIED,
            dependencies=[require(Role.billing)])
def get_billing(conn: Conn, request: Request,
                at: Annotated[Instant, Query(description="Cut-off, e.g. 2026-11-30T23:59:59Z")],
                target_date: Annotated[Day | None, Query(description="Default: local date of `at`")] = None,
                limit: Limit = 1000, cursor: CursorParam = None) -> Response:
    """For every meter: the last reading at or before ``at``, whether it is actual, the target value.

    Keyset-paged; answers 304 to ``If-None-Match`` with the page's current ``ETag``.
    """
    after = decode_cursor("billing", cursor, (str, str)) if cursor else None
    rows = billing_readings(conn, at=at, target_date=target_date, limit=limit + 1, after=after)
    rows, nxt = page_of(rows, limit, "billing", lambda b: (b.manufacturer, b.meter_id))
    # serialized straight from storage's dataclasses (BillingReadingOut's fields plus the internal meter_key,
    # checked in tests/api/test_conventions.py): validating 10,000 models cost 3× the dump
    items = _ROWS.dump_json(rows, exclude={"__all__": {"meter_key"}}).decode()
    body = f'{{"items":{items},"next":{json.dumps(nxt)}}}'
    return conditional_body(request, body.encode("utf-8"), link_header(request, nxt))
