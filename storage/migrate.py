"""Numbered SQL migrations (``storage/migrations/NNN_name.sql``), applied once each, in order.

Each file runs in its own transaction together with its row in ``schema_migrations``; the whole run holds a
session advisory lock, so concurrent ``migrate`` calls (several workers starting at once) apply each file
exactly once. Hook comments in the SQL are expanded by :mod:`storage.timescale`. Numbers 001–049 belong to
the storage schema, 050–069 to alerts.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from storage import timescale
from storage.errors import MigrationError

log = logging.getLogger(__name__)
_LOCK_ID = 0x6F64637A79745F6D  # "odczyt_m": one lock for every odczyt database on a server
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """Every ``NNN_name.sql`` in ``storage/migrations``, sorted by number (duplicate numbers refused)."""
    found: dict[int, Migration] = {}
    for entry in sorted(MIGRATIONS_DIR.iterdir()):
        match = _NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            other = found[version].name
            raise MigrationError(f"two migrations numbered {version:03d}: {other}, {entry.name}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def migrate(conninfo: str) -> list[str]:
    """Apply every pending migration to ``conninfo``; return the names of the files applied (idempotent)."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            try:
                return _apply_pending(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    except psycopg.Error as exc:
        raise MigrationError(f"migrate: {exc}") from exc


def _apply_pending(conn: psycopg.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
    backend = timescale.choose_backend(conn)
    applied: list[str] = []
    for mig in load_migrations():
        if mig.version in done:
            if done[mig.version] != mig.checksum:
                log.warning("migration %s changed after it was applied (checksum differs)", mig.name)
            continue
        if not applied and not done:
            timescale.prepare(conn, backend)
        _apply_one(conn, mig, backend)
        applied.append(mig.name)
    if applied:
        log.info("applied %d migrations (%s backend): %s", len(applied), backend, ", ".join(applied))
    return applied


def _apply_one(conn: psycopg.Connection, mig: Migration, backend: timescale.Backend) -> None:
    sql = timescale.expand_hooks(mig.sql, backend)
    try:
        with conn.transaction():
            conn.execute(sql.encode())
            if mig.version == 1:
                conn.execute("INSERT INTO odczyt_settings (key, value) VALUES ('backend', %s) "
                             "ON CONFLICT (key) DO NOTHING", (backend,))
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                         (mig.version, mig.name, mig.checksum))
    except psycopg.Error as exc:
        raise MigrationError(f"{mig.name}: {exc}") from exc
