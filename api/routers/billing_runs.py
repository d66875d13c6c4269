"""Billing runs (issue 14): ``POST /v1/billing/runs`` computes an immutable snapshot of per-service-point lines
for a period of local calendar dates (Europe/Warsaw, stated explicitly); lines, a diff against the previous
version, and streamed exports (CSV, Polish-Excel CSV, JSON Lines, Parquet). See docs/billing.md."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.auth import CurrentPrincipal, Role, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, page_of
from api.params import PathId
from api.routers.billing_export import stream
from core.billing_rules import Thresholds, thresholds_from
from core.settings import BillingSettings, Settings
from storage import audit
from storage import billing_runs as store

router = APIRouter(prefix="/v1", tags=["billing"])
RunId = PathId
SpId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


@functools.lru_cache(maxsize=1)
def billing_settings() -> BillingSettings:
    """``ODCZYT_BILLING__*`` as the API process saw them at first use."""
    return Settings().billing


def thresholds() -> Thresholds:
    """The configured validation and estimation thresholds."""
    return thresholds_from(billing_settings())


class Period(BaseModel):
    """Local calendar days, both inclusive, in the stated time zone (only Europe/Warsaw is supported)."""

    first: date
    last: date
    timezone: Literal["Europe/Warsaw"]

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.last < self.first:
            raise ValueError("period.last is before period.first")
        if (self.last - self.first).days > 400:
            raise ValueError("a billing period is at most 400 days")
        return self


class Selection(BaseModel):
    """Exactly one of: every service point, an area, or a list of service point ids."""

    all: Literal[True] | None = None
    area: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    service_points: Annotated[list[SpId], Field(min_length=1, max_length=100_000)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Selection:
        if sum(v is not None for v in (self.all, self.area, self.service_points)) != 1:
            raise ValueError("give exactly one of all, area, service_points")
        return self


class TariffIn(BaseModel):
    """A tariff and the first local day it applies."""

    valid_from: date
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RunIn(BaseModel):
    """A billing run request; without ``tariffs`` the ``tariffs`` table is used."""

    period: Period
    selection: Selection
    tariffs: Annotated[list[TariffIn], Field(max_length=100)] | None = None


class RunOut(BaseModel):
    id: int
    period_first: date
    period_last: date
    timezone: str = "Europe/Warsaw"
    selection: dict[str, Any]
    version: int
    tariffs: list[Any]
    created_by: str
    created_at: datetime
    lines: int


class PointOut(BaseModel):
    value_m3: float | None
    basis: str
    at: datetime | None


class LineOut(BaseModel):
    """A service point's line: opening and closing register with basis and time, consumption, tariff split."""

    service_point_id: str
    meters: list[str]
    opening: PointOut
    closing: PointOut
    consumption_m3: float | None
    basis: str
    tariffs: list[dict[str, Any]]
    legally_valid: bool | None
    flags: list[str]


class LinePage(Page[LineOut]):
    """Lines in service point order."""


def line_out(r: dict[str, Any]) -> LineOut:
    """A stored line row as the API shape."""
    return LineOut(service_point_id=r["service_point_id"], meters=r["meters"],
                   opening=PointOut(value_m3=r["opening_m3"], basis=r["opening_basis"], at=r["opening_at"]),
                   closing=PointOut(value_m3=r["closing_m3"], basis=r["closing_basis"], at=r["closing_at"]),
                   consumption_m3=r["consumption_m3"], basis=r["basis"], tariffs=r["tariffs"],
                   legally_valid=r["legally_valid"], flags=r["flags"])


def _run_or_404(conn: Any, run_id: int) -> dict[str, Any]:
    run = store.get_run(conn, run_id)
    if run is None:
        raise HTTPException(404, f"no billing run {run_id}")
    return run


@router.post("/billing/runs", response_model=RunOut, status_code=201, dependencies=[require(Role.billing)])
def post_run(body: RunIn, conn: Conn, request: Request, principal: CurrentPrincipal) -> RunOut:
    """Compute and store a run (a new version when the same period and selection ran before)."""
    selection = body.selection.model_dump(exclude_none=True)
    tariffs = None if body.tariffs is None else [(t.valid_from, t.name) for t in body.tariffs]
    run = store.create_run(conn, first=body.period.first, last=body.period.last, selection=selection,
                           tariffs=tariffs, th=thresholds(), actor=principal.actor,
                           history_days=billing_settings().history_days, now=datetime.now(UTC))
    with conn.transaction():
        audit.record(conn, actor=principal.actor, action="billing.run", subject=f"billing_run:{run['id']}",
                     after={"period": [str(body.period.first), str(body.period.last)], "selection": selection,
                            "version": run["version"], "lines": run["lines"]}, request_id=request_id(request))
    return RunOut(**run)


@router.get("/billing/runs/{run_id}", response_model=RunOut, dependencies=[require(Role.billing)])
def get_run(run_id: RunId, conn: Conn) -> RunOut:
    """A run's header."""
    return RunOut(**_run_or_404(conn, run_id))


@router.get("/billing/runs/{run_id}/lines", response_model=LinePage, dependencies=[require(Role.billing)])
def get_lines(run_id: RunId, conn: Conn, limit: Limit = 1000,
              cursor: CursorParam = None) -> LinePage:
    """A run's lines, keyset-paged in service point order."""
    _run_or_404(conn, run_id)
    after = decode_cursor("billing_lines", cursor, (str,))[0] if cursor else None
    rows = store.lines(conn, run_id, after=after, limit=limit + 1)
    rows, nxt = page_of(rows, limit, "billing_lines", lambda r: (r["service_point_id"],))
    return LinePage(items=[line_out(r) for r in rows], next=nxt)


@router.get("/billing/runs/{run_id}/diff", dependencies=[require(Role.billing)])
def get_diff(run_id: RunId, conn: Conn) -> dict[str, Any]:
    """Service points whose consumption or basis changed against the previous version of this run."""
    got = store.diff(conn, run_id)
    if got is None:
        raise HTTPException(404, f"no billing run {run_id}")
    return got


@router.get("/billing/runs/{run_id}/export", dependencies=[require(Role.billing)],
            response_class=StreamingResponse)
def export(run_id: RunId, conn: Conn, request: Request,
           format: Annotated[Literal["csv", "jsonl", "parquet"], Query()] = "csv",
           polish: Annotated[bool, Query(description="CSV with ';' and a decimal comma (Polish Excel)")] = False,
           ) -> StreamingResponse:
    """The run's lines streamed as CSV, JSON Lines or Parquet."""
    _run_or_404(conn, run_id)
    media, body = stream(request.app.state.pool, run_id, format, polish)
    name = f"billing-run-{run_id}.{format}"
    return StreamingResponse(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
