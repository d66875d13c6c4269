"""The ASGI entry point for uvicorn: ``uvicorn api.asgi:app`` or ``uvicorn --factory api.asgi:create``.

Settings come from the environment (``ODCZYT_DATABASE_URL``, ``ODCZYT_API__*``, ``ODCZYT_ENV_FILE``), read
when uvicorn first asks for ``app`` — each of ``odczyt serve --workers N``'s processes builds its own app.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.app import create_app
from core.errors import ConfigError
from core.settings import Settings


def create(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    if settings.database_url is None:
        raise ConfigError("ODCZYT_DATABASE_URL is not set: the API needs the database")
    return create_app(settings.database_url.get_secret_value(), api=settings.api)


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access, so importing this module (tests, tools) needs no configuration
    global _app
    if name == "app":
        if _app is None:
            _app = create()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
