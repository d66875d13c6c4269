"""Test harness: real PostgreSQL and Mosquitto, started once per session on free local ports.

``ODCZYT_DATABASE_URL`` / ``ODCZYT_MQTT_URL`` point the suite at existing servers instead;
``ODCZYT_TEST_BACKEND=native|timescaledb`` picks whether the embedded PostgreSQL preloads TimescaleDB. Every test that
needs a database gets its own (``fresh_db_url`` empty, ``db_url`` migrated). Tests that stop or restart a
server use ``private_broker`` / ``private_pg`` so they never disturb the shared ones.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from pipeline.embedded import EmbeddedMosquitto, EmbeddedPostgres

_counter = itertools.count()


@dataclass
class PgServer:
    """Where the test PostgreSQL is and how to reach one database on it."""

    admin_url: str
    embedded: EmbeddedPostgres | None

    def url_for(self, dbname: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{dbname}"))


@dataclass
class Broker:
    """Where the test Mosquitto is."""

    host: str
    port: int
    embedded: EmbeddedMosquitto | None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def test_backend() -> str:
    """``ODCZYT_TEST_BACKEND``: ``native`` (default) or ``timescaledb`` — which server the embedded PostgreSQL
    is (with or without the TimescaleDB library preloaded); ignored when ``ODCZYT_DATABASE_URL`` is set."""
    backend = os.environ.get("ODCZYT_TEST_BACKEND", "native") or "native"
    if backend not in ("native", "timescaledb"):
        raise pytest.UsageError(f"ODCZYT_TEST_BACKEND must be native or timescaledb, not {backend!r}")
    return backend


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="odczyt-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session", autouse=True)
def _private_state_directory(services_dir: Path) -> Iterator[None]:
    """Workers keep their poison journal in ``$STATE_DIRECTORY`` (else ``~/.local/state/odczyt``): give the run,
    and every subprocess it starts, a directory of its own, so no journal outlives the run or leaks into the next."""
    state = services_dir / "state"
    state.mkdir()
    before = os.environ.get("STATE_DIRECTORY")
    os.environ["STATE_DIRECTORY"] = str(state)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("STATE_DIRECTORY", None)
        else:
            os.environ["STATE_DIRECTORY"] = before


@pytest.fixture(scope="session")
def pg_server(services_dir: Path) -> Iterator[PgServer]:
    url = os.environ.get("ODCZYT_DATABASE_URL")
    if url:
        yield PgServer(admin_url=url, embedded=None)
        return
    pg = EmbeddedPostgres(services_dir / "shared", timescaledb=test_backend() == "timescaledb").start()
    try:
        yield PgServer(admin_url=pg.url, embedded=pg)
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def mqtt_broker(services_dir: Path) -> Iterator[Broker]:
    url = os.environ.get("ODCZYT_MQTT_URL")
    if url:
        parts = urlsplit(url)
        yield Broker(host=parts.hostname or "127.0.0.1", port=parts.port or 1883, embedded=None)
        return
    mq = EmbeddedMosquitto(services_dir / "shared").start()
    try:
        yield Broker(host="127.0.0.1", port=mq.port, embedded=mq)
    finally:
        mq.stop()


def _create_db(pg: PgServer, template: str | None = None) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        tmpl = f" TEMPLATE {template}" if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    return name


def _drop_db(pg: PgServer, name: str) -> None:
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_db_url(pg_server: PgServer) -> Iterator[str]:
    """An empty database of its own for one test."""
    name = _create_db(pg_server)
    try:
        yield pg_server.url_for(name)
    finally:
        _drop_db(pg_server, name)


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer) -> str:
    """A database with every migration applied, copied for each test that needs the schema."""
    from storage.migrate import migrate

    name = _create_db(pg_server)
    migrate(pg_server.url_for(name))
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        # TimescaleDB's scheduler keeps a session in every database with the extension, and CREATE DATABASE …
        # TEMPLATE needs none: a template that allows no connections gets no scheduler.
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    return name


@pytest.fixture
def db_url(pg_server: PgServer, migrated_template: str) -> Iterator[str]:
    """A migrated database of its own for one test."""
    name = _create_db(pg_server, template=migrated_template)
    try:
        yield pg_server.url_for(name)
    finally:
        _drop_db(pg_server, name)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[EmbeddedMosquitto]:
    """A Mosquitto of this test's own, which the test may stop, kill and restart."""
    mq = EmbeddedMosquitto(tmp_path).start()
    try:
        yield mq
    finally:
        mq.stop()


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL cluster of this test's own, which the test may restart."""
    pg = EmbeddedPostgres(tmp_path, timescaledb=test_backend() == "timescaledb").start()
    try:
        yield pg
    finally:
        pg.stop()
