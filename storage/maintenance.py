"""Storage policies and the periodic maintenance call (``odczyt db maintain``; ingest workers run it too).

Policies live in ``odczyt_settings`` (``readings_retention``, ``raw_frames_retention``,
``dead_letters_retention``, ``compress_after``, ``partitions_ahead_months``), set with :func:`set_policy`.
Native backend: create monthly partitions ahead, drop partitions wholly older than the retention, refresh
dirty rollups, purge old dead letters. TimescaleDB: (re)install compression and retention jobs, which the
extension's scheduler then runs; continuous aggregates refresh on their own policies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from storage import timescale
from storage.errors import StorageError
from storage.rollups import refresh_rollups

log = logging.getLogger(__name__)
POLICY_KEYS = ("readings_retention", "raw_frames_retention", "dead_letters_retention", "compress_after",
               "partitions_ahead_months")
_MAINT_LOCK = 0x6F64637A79745F6E
_TIME_COLUMN = {"readings": "measured_at", "raw_frames": "received_at"}


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance pass did."""

    partitions_created: int
    partitions_dropped: list[str]
    rollup_hours: int
    dead_letters_purged: int


def get_policies(conn: psycopg.Connection) -> dict[str, str]:
    """The configured policies ('' = none)."""
    rows = conn.execute("SELECT key, value FROM odczyt_settings WHERE key = ANY(%s)", (list(POLICY_KEYS),))
    return {k: v for k, v in rows}


def set_policy(conn: psycopg.Connection, *, key: str, value: str) -> None:
    """Set one policy: an interval such as ``'730 days'`` or ``''`` (none); months ahead is an integer."""
    if key not in POLICY_KEYS:
        raise StorageError(f"unknown policy {key!r} (one of {', '.join(POLICY_KEYS)})")
    try:
        if key == "partitions_ahead_months":
            int(value)
        elif value:
            conn.execute("SELECT %s::interval", (value,))
    except (ValueError, psycopg.errors.DataError) as exc:
        raise StorageError(f"policy {key}: {value!r} is not valid") from exc
    conn.execute("INSERT INTO odczyt_settings (key, value) VALUES (%s, %s) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value))


def _drop_old_partitions(conn: psycopg.Connection, table: str, retention: str) -> list[str]:
    if not retention:
        return []
    cutoff = conn.execute("SELECT now() - %s::interval", (retention,)).fetchone()[0]  # type: ignore[index]
    dropped = []
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = %s::regclass AND c.relname ~ '_p[0-9]{6}$'", (table,)).fetchall()
    for (name,) in rows:
        y, m = int(name[-6:-2]), int(name[-2:])
        upper = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
        if upper <= cutoff:
            conn.execute(f'DROP TABLE "{name}"')
            dropped.append(name)
    # Rows older than any monthly partition (imported history, a spool drained very late) sit in the default one.
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{table}_default",)).fetchone()[0]:  # type: ignore[index]
        gone = conn.execute(f'DELETE FROM "{table}_default" WHERE {_TIME_COLUMN[table]} < %s', (cutoff,)).rowcount
        if gone:
            dropped.append(f"{table}_default ({gone} rows)")
    return dropped


def maintain(conn: psycopg.Connection) -> MaintenanceReport:
    """One maintenance pass (skipped, returning zeros, while another session runs one)."""
    with conn.transaction():
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_MAINT_LOCK,)).fetchone()[0]:  # type: ignore[index]
            return MaintenanceReport(0, [], 0, 0)
        pol = get_policies(conn)
        backend = timescale.recorded_backend(conn) or "native"
        created, dropped = 0, []
        if backend == "timescaledb":
            timescale.apply_policies(conn, compress_after=pol.get("compress_after"), retention={
                "readings": pol.get("readings_retention"), "raw_frames": pol.get("raw_frames_retention")})
            timescale.apply_refresh_window(conn, pol.get("readings_retention"))
        else:
            ahead = int(pol.get("partitions_ahead_months") or 3)
            for table in ("readings", "raw_frames"):
                created += conn.execute("SELECT odczyt_ensure_partitions(%s, %s)", (table, ahead)).fetchone()[0]  # type: ignore[index]
                dropped += _drop_old_partitions(conn, table, pol.get(f"{table}_retention", ""))
        purged = 0
        if pol.get("dead_letters_retention"):
            purged = conn.execute("DELETE FROM dead_letters WHERE last_seen < now() - %s::interval",
                                  (pol["dead_letters_retention"],)).rowcount
    hours = refresh_rollups(conn) if backend == "native" else 0
    return MaintenanceReport(created, dropped, hours, purged)
