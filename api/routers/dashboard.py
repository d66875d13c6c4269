"""The operations dashboard: a small HTML page at ``/`` and its JSON summary."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.auth import Role, public, require
from api.deps import Conn
from storage.dashboard import PipelineSummary, pipeline_summary

router = APIRouter(tags=["dashboard"])


@router.get("/v1/dashboard/summary", response_model=PipelineSummary, dependencies=[require(Role.operations)])
def summary(conn: Conn) -> PipelineSummary:
    """Meters heard, readings stored, frames not yet decodable, dead letters, data freshness."""
    return pipeline_summary(conn)


@router.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def page() -> HTMLResponse:
    """The dashboard page: static HTML without data (public); the JSON endpoints it polls need a login."""
    return HTMLResponse(resources.files("api").joinpath("static/dashboard.html").read_text(encoding="utf-8"))
