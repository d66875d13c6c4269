"""The dashboard's HTML pages and their static files (vanilla JS modules, CSS, vendored Leaflet and uPlot).

Pages are public static HTML without data: everything they show comes from authenticated ``/v1`` calls, and a
401 sends the browser to ``/login``. Static files are served only from ``api/static/{js,css,vendor}``.
"""

from __future__ import annotations

import mimetypes
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from api.auth import public
from api.params import PathId

router = APIRouter(include_in_schema=False, dependencies=[public()])
STATIC = resources.files("api").joinpath("static")
ASSET_DIRS = ("js", "css", "vendor")
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}
Ident = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00/]+$")]


def _page(name: str) -> HTMLResponse:
    html = STATIC.joinpath(f"{name}.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/")
def overview() -> HTMLResponse:
    """The overview page (read rate, meters heard, unknown meters, pipeline figures)."""
    return _page("overview")


@router.get("/ui/map")
def map_page() -> HTMLResponse:
    """The map of service points and gateways."""
    return _page("map")


@router.get("/ui/alerts")
def alerts_page() -> HTMLResponse:
    """The alert queue."""
    return _page("alerts")


@router.get("/ui/alerts/{alert_id}")
def alert_page(alert_id: PathId) -> HTMLResponse:
    """The alert queue with one alert opened (the ``ui`` link of an alert)."""
    return _page("alerts")


@router.get("/ui/service-points/{service_point_id}")
def service_point_page(service_point_id: Ident) -> HTMLResponse:
    """The drill-down of one service point."""
    return _page("service_point")


@router.get("/ui/gateways")
def gateways_page() -> HTMLResponse:
    """Gateways and pipeline health."""
    return _page("gateways")


@router.get("/ui/static/{folder}/{path:path}")
def asset(folder: str, path: str) -> Response:
    """A static file of the pages (no directory listing, no path outside the asset folders)."""
    parts = path.split("/")
    if folder not in ASSET_DIRS or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise HTTPException(404, "not found")
    node = STATIC.joinpath(folder, *parts)
    if not node.is_file():
        raise HTTPException(404, "not found")
    suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
    media = TYPES.get(suffix) or mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    return Response(node.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=300"})
