"""``GET /v1/meters``: the meter registry with legalization validity and current service point."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from storage.queries import list_meters

router = APIRouter(prefix="/v1", tags=["meters"])


class MeterOut(BaseModel):
    """One registered meter."""

    manufacturer: str
    meter_id: str
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


@router.get("/meters", response_model=list[MeterOut], dependencies=[require(Role.operations, Role.billing)])
def get_meters(conn: Conn, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[MeterOut]:
    """Registered meters, ordered by manufacturer and id."""
    return [MeterOut.model_validate(m, from_attributes=True) for m in list_meters(conn, limit=limit, offset=offset)]
