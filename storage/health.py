"""Readiness of the database for the API: reachable, and every numbered migration of this code applied."""

from __future__ import annotations

import functools

import psycopg

from storage.migrate import load_migrations


@functools.cache
def _shipped() -> tuple[tuple[int, str], ...]:
    # the migration files are part of the installed code: read once per process, not on every readiness probe
    return tuple((m.version, m.name) for m in load_migrations())


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    """Names of the migration files this code ships that the database has not applied (all when none were)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied: set[int] = set()
    if exists and exists[0]:
        applied = {int(v) for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    return [name for version, name in _shipped() if version not in applied]
