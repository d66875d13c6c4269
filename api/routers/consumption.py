"""``GET /v1/service-points/{id}/consumption?from=&to=&interval=day``: consumption per period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.auth import CurrentPrincipal, Role, ensure_service_point, require
from api.deps import Conn
from storage.queries import consumption, service_point_exists

router = APIRouter(prefix="/v1", tags=["consumption"])


class PeriodOut(BaseModel):
    """Consumption in ``[start, end)``."""

    start: datetime
    end: datetime
    consumption_m3: float | None
    estimated: bool
    actual_m3: float
    estimated_m3: float


class ConsumptionOut(BaseModel):
    """A service point's consumption, continuous across meter replacements."""

    service_point_id: str
    interval: str
    periods: list[PeriodOut]


@router.get("/service-points/{service_point_id}/consumption", response_model=ConsumptionOut,
            dependencies=[require(Role.operations, Role.billing, Role.portal)])
def get_consumption(conn: Conn, principal: CurrentPrincipal, service_point_id: str, start: Annotated[datetime, Query(alias="from")],
                    end: Annotated[datetime, Query(alias="to")],
                    interval: Literal["hour", "day", "week", "month"] = "day") -> ConsumptionOut:
    """Per-period consumption (local Europe/Warsaw periods), actual vs estimated."""
    ensure_service_point(principal, service_point_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "from and to need a time zone")
    if end <= start or (interval == "hour" and (end - start).days > 93):
        raise HTTPException(422, "to must be after from (and at most 93 days of hours)")
    if not service_point_exists(conn, service_point=service_point_id):
        raise HTTPException(404, f"no service point {service_point_id}")
    periods = consumption(conn, service_point=service_point_id, start=start, end=end, interval=interval)
    return ConsumptionOut(service_point_id=service_point_id, interval=interval,
                          periods=[PeriodOut.model_validate(p, from_attributes=True) for p in periods])
