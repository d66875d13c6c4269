"""FastAPI app factory: a connection pool, every router in ``api/routers``, ``/metrics``, ``/healthz``, ``/readyz``.

Every route declares who may call it (``api.auth.require`` / ``public``); the factory refuses to build an app
with an undeclared route and writes the declarations into the OpenAPI document.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from psycopg_pool import ConnectionPool
from starlette.responses import JSONResponse, Response

from api import docs_ui, limits, problems, routers
from api.auth import AuthConfig, Role, check_routes, decorate_openapi, public, require
from api.metrics import DatabaseCollector
from core.settings import ApiSettings
from storage.health import pending_migrations


def create_app(database_url: str, *, registry: CollectorRegistry = REGISTRY, pool_size: int = 8,
               api: ApiSettings | None = None) -> FastAPI:
    """Build the API serving ``database_url``; metrics come from ``registry``, auth options from ``api``."""
    pool = ConnectionPool(database_url, min_size=1, max_size=pool_size, open=False,
                          kwargs={"autocommit": True})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=True, timeout=30)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="odczyt",
        version="1",
        description="Water-meter readings for billing and operations (wireless M-Bus/OMS).",
        lifespan=lifespan,
        docs_url=None,  # served from the package by api.docs_ui (works offline)
        redoc_url=None,
    )
    app.state.pool = pool
    app.state.registry = registry
    app.state.api_settings = api = api or ApiSettings()
    app.state.auth = AuthConfig.from_settings(api)
    db_registry = CollectorRegistry(auto_describe=False)
    db_registry.register(DatabaseCollector(pool))

    for info in sorted(pkgutil.iter_modules(routers.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routers.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)

    @app.get("/metrics", tags=["ops"], dependencies=[require(Role.operations)],
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    def metrics() -> Response:
        """Prometheus metrics (scrape with an operations API key as the bearer token)."""
        body = generate_latest(registry) + generate_latest(db_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"], dependencies=[public()])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (touches no database)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], dependencies=[public()],
             responses={503: {"description": "database unreachable or migrations pending"}})
    def readyz(request: Request) -> Response:
        """Readiness: the database answers and every migration of this version is applied."""
        return _readiness(request.app.state.pool)

    docs_ui.install(app)
    check_routes(app)
    decorate_openapi(app)
    limits.install(app, api, max_in_flight=pool_size)  # body, NUL, rate, CORS, in-flight
    problems.install(app)  # last: its request-id middleware wraps the others (docs/api.md "Conventions")
    return app


def _readiness(pool: ConnectionPool) -> Response:
    try:
        with pool.connection(timeout=5) as conn:
            pending = pending_migrations(conn)
    except Exception as exc:  # any failure to reach the database means "not ready", never a 500
        return JSONResponse({"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, status_code=503)
    if pending:
        return JSONResponse({"status": "unavailable", "reason": "migrations pending", "pending": pending},
                            status_code=503)
    return JSONResponse({"status": "ok"})
