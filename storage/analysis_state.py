"""What the sharded and incremental analysis (:mod:`pipeline.analyze_shards`) reads and records besides the
readings: how meters group by service point, the last run's horizon, the meters with new data since, and the
per-meter last-heard times kept between runs."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg

from core.schemas import LAST_HEARD_SCHEMA


def meter_links(conn: psycopg.Connection) -> tuple[list[int], list[tuple[str, int]]]:
    """Every registered meter key, and every (service point, meter key) installation pair."""
    keys = [int(k) for (k,) in conn.execute("SELECT meter_key FROM meters")]
    pairs = [(str(sp), int(k)) for sp, k in conn.execute("SELECT service_point_id, meter_key FROM installations")]
    return keys, pairs


def last_progress(conn: psycopg.Connection) -> datetime | None:
    """The ``now`` of the last completed sharded/incremental run, or None."""
    row = conn.execute("SELECT data_until FROM analysis_progress WHERE id = 1").fetchone()
    return None if row is None else row[0]


def record_progress(conn: psycopg.Connection, *, now: datetime, full_run: bool) -> None:
    """Remember that a run as of ``now`` completed."""
    conn.execute("INSERT INTO analysis_progress (id, data_until, full_run) VALUES (1, %s, %s) ON CONFLICT (id) "
                 "DO UPDATE SET data_until = EXCLUDED.data_until, full_run = EXCLUDED.full_run, updated_at = now()",
                 (now, full_run))


def changed_meters(conn: psycopg.Connection, *, since: datetime, until: datetime) -> list[int]:
    """Meters with a reading measured in ``(since, until]`` (a range the time partitioning prunes to)."""
    rows = conn.execute("SELECT DISTINCT meter_key FROM readings WHERE measured_at > %s AND measured_at <= %s",
                        (since, until))
    return [int(k) for (k,) in rows]


def save_last_heard(conn: psycopg.Connection, heard: pl.DataFrame, *, replace: bool) -> None:
    """Store ``meter_key, source, last_at`` rows (all of them when ``replace``, else merged: newest wins)."""
    with conn.transaction():
        if replace:
            conn.execute("TRUNCATE analysis_last_heard")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS stage_heard (LIKE analysis_last_heard) ON COMMIT DELETE ROWS")
        with conn.cursor().copy("COPY stage_heard (meter_key, source, last_at) FROM STDIN") as copy:
            for row in heard.select("meter_key", "source", "last_at").iter_rows():
                copy.write_row(row)
        conn.execute("INSERT INTO analysis_last_heard SELECT * FROM stage_heard ON CONFLICT (meter_key, source) "
                     "DO UPDATE SET last_at = greatest(analysis_last_heard.last_at, EXCLUDED.last_at)")


def recent_last_heard(conn: psycopg.Connection, *, since: datetime, until: datetime) -> pl.DataFrame:
    """Newest reading time per meter and source among readings measured in ``(since, until]``."""
    rows = conn.execute("SELECT meter_key, source, max(measured_at) FROM readings WHERE measured_at > %s "
                        "AND measured_at <= %s GROUP BY meter_key, source", (since, until)).fetchall()
    return pl.DataFrame(rows, schema=LAST_HEARD_SCHEMA, orient="row")


def stored_last_heard(conn: psycopg.Connection) -> pl.DataFrame:
    """Every stored last-heard row."""
    rows = conn.execute("SELECT meter_key, source, last_at FROM analysis_last_heard").fetchall()
    return pl.DataFrame(rows, schema=LAST_HEARD_SCHEMA, orient="row")
