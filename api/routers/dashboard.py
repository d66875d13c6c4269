"""The operations dashboard: a small HTML page at ``/`` and its JSON summary."""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.deps import Conn
from storage.dashboard import pipeline_summary

router = APIRouter(tags=["dashboard"])


class SummaryOut(BaseModel):
    meters: int
    meters_heard_24h: int
    readings_total: int
    readings_24h: int
    frames_undecoded: int
    dead_letters: int
    last_received_at: datetime | None
    last_committed_lag_s: float | None


@router.get("/v1/dashboard/summary", response_model=SummaryOut)
def summary(conn: Conn) -> SummaryOut:
    """Meters heard, readings stored, frames not yet decodable, dead letters, data freshness."""
    s = pipeline_summary(conn)
    return SummaryOut(**{f: getattr(s, f) for f in SummaryOut.model_fields})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The dashboard page (static HTML that polls the JSON endpoints)."""
    return HTMLResponse(resources.files("api").joinpath("static/dashboard.html").read_text(encoding="utf-8"))
