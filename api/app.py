"""FastAPI app factory: a connection pool, every router in ``api/routers``, ``/metrics`` and ``/healthz``."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from psycopg_pool import ConnectionPool
from starlette.responses import Response

from api import routers
from api.metrics import DatabaseCollector


def create_app(database_url: str, *, registry: CollectorRegistry = REGISTRY, pool_size: int = 8) -> FastAPI:
    """Build the API serving ``database_url``; metrics come from ``registry``."""
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
    )
    app.state.pool = pool
    app.state.registry = registry
    db_registry = CollectorRegistry(auto_describe=False)
    db_registry.register(DatabaseCollector(pool))

    for info in sorted(pkgutil.iter_modules(routers.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routers.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body = generate_latest(registry) + generate_latest(db_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        return {"status": "ok"}

    return app
