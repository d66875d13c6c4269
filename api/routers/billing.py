"""``GET /v1/billing/readings?at=…``: every meter's state at a billing cut-off."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from storage.queries import billing_readings

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


@router.get("/billing/readings", response_model=list[BillingReadingOut], dependencies=[require(Role.billing)])
def get_billing(conn: Conn, at: Annotated[datetime, Query(description="Cut-off, e.g. 2026-11-30T23:59:59Z")],
                target_date: Annotated[date | None, Query(description="Default: local date of `at`")] = None,
                ) -> list[BillingReadingOut]:
    """For every meter: the last reading at or before ``at``, whether it is actual, the target value."""
    if at.tzinfo is None:
        raise HTTPException(422, "at needs a time zone (e.g. 2026-11-30T23:59:59Z)")
    rows = billing_readings(conn, at=at, target_date=target_date)
    return [BillingReadingOut.model_validate(r, from_attributes=True) for r in rows]
