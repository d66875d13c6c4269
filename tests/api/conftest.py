"""API test fixtures: API keys for any role, and a real ``odczyt serve`` (uvicorn) on a free local port.

* ``make_api_key(db_url, role, scope=None, *, name=None, expires_at=None) -> str`` (also as ``api_key``): a
  fresh key string for ``role`` (optionally scoped to service points), stored in the database ``db_url``.
* ``api_server``: base URL (``http://127.0.0.1:PORT``) of ``odczyt serve`` in a subprocess serving the test's
  migrated ``db_url``; ready (``/readyz`` 200) when yielded, stopped with SIGTERM afterwards.
* ``start_api_server(db_url, env=None, workers=1)``: a context manager for a server with extra ``ODCZYT_*``
  settings (OIDC, several workers…), yielding its base URL.

The helpers behind them (``create_key``, ``run_server``, ``auth_headers``, ``free_port``) live in
``tests/api/serving.py`` so test files can import them (``from serving import run_server``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving import MakeKey, create_key, run_server


@pytest.fixture
def make_api_key() -> MakeKey:
    """Factory ``(db_url, role, scope=None, *, name=None, expires_at=None) -> key string``."""
    return create_key


@pytest.fixture
def api_key() -> MakeKey:
    """The same factory as ``make_api_key``."""
    return create_key


@pytest.fixture
def start_api_server(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[str]]:
    """Context-manager factory ``(db_url, env=None, workers=1)`` yielding a ready server's base URL."""

    @contextlib.contextmanager
    def start(db_url: str, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[str]:
        with run_server(db_url, tmp_path, env, workers) as (url, _):
            yield url

    return start


@pytest.fixture
def api_server(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Base URL of a real ``odczyt serve`` over the test's migrated database."""
    with run_server(db_url, tmp_path) as (url, _):
        yield url
