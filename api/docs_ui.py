"""Swagger UI (``/docs``) and ReDoc (``/redoc``) served from the package, so the docs work offline.

The JavaScript and CSS are vendored unchanged in ``api/static/docs`` from the npm packages ``swagger-ui-dist``
and ``redoc`` (versions and licenses beside them, ``VERSIONS.txt``); no page refers to another host.
Create the app with ``docs_url=None, redoc_url=None`` and call :func:`install`.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.auth import public

STATIC = "/static/docs"


def install(app: FastAPI) -> None:
    """Mount the vendored assets at ``/static/docs`` and add the ``/docs`` and ``/redoc`` pages."""
    directory = resources.files("api").joinpath("static/docs")
    app.mount(STATIC, StaticFiles(directory=str(directory)), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{STATIC}/swagger-ui/favicon-32x32.png"

    @app.get("/docs", include_in_schema=False, dependencies=[public()])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — API", oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{STATIC}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui/swagger-ui.css", swagger_favicon_url=favicon)

    @app.get("/docs/oauth2-redirect", include_in_schema=False, dependencies=[public()])
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False, dependencies=[public()])
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{app.title} — API reference",
                              redoc_js_url=f"{STATIC}/redoc/redoc.standalone.js", redoc_favicon_url=favicon,
                              with_google_fonts=False)
