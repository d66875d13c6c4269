"""The one place that knows about TimescaleDB: detection, and the SQL each migration hook expands to.

Migrations are plain SQL with hook comments the runner (:mod:`storage.migrate`) expands here:

* ``/*@timeseries TABLE COLUMN CHUNK*/`` after a ``CREATE TABLE`` — TimescaleDB: ``create_hypertable`` with
  that chunk interval; native: ``PARTITION BY RANGE (COLUMN)`` with a default partition and monthly
  partitions created ahead by ``odczyt_ensure_partitions`` (re-run by :func:`storage.maintenance.maintain`).
* ``/*@timescaledb*/ … /*@end*/`` — the SQL between them runs on TimescaleDB only (it must hold no comment).
* ``/*@rollups*/`` — TimescaleDB: the hourly and daily continuous aggregates and their refresh policies;
  native: the same relations as tables, refreshed incrementally by :mod:`storage.rollups`.

The backend is chosen once, when the first migration runs, and recorded in ``odczyt_settings`` so a database
never changes layout half-way. TimescaleDB is used when the package is installed (``pg_available_extensions``)
and the server preloads it (``shared_preload_libraries``); otherwise native. odczyt never requires it.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import psycopg

Backend = Literal["timescaledb", "native"]
ROLLUP_TZ = "Europe/Warsaw"
log = logging.getLogger(__name__)
_HOOK = re.compile(r"/\*@(\w+)([^*]*)\*/")


def timescale_available(conn: psycopg.Connection) -> bool:
    """True when the server can ``CREATE EXTENSION timescaledb``: the package is installed AND preloaded.

    An installed but not preloaded library is listed by ``pg_available_extensions`` on every server of the
    machine, yet ``CREATE EXTENSION`` fails there; such a server gets the native backend (one log line).
    """
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if row is None:
        return False
    preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    if preloads_timescaledb(str(preload[0] if preload else "")):
        return True
    log.info("timescaledb is installed but not in shared_preload_libraries: using the native backend")
    return False


def preloads_timescaledb(setting: str) -> bool:
    """True when a ``shared_preload_libraries`` value names the timescaledb library."""
    libs = {lib.strip().strip('"').rsplit("/", 1)[-1] for lib in setting.split(",")}
    return any(lib == "timescaledb" or lib.startswith("timescaledb-") for lib in libs)


def recorded_backend(conn: psycopg.Connection) -> Backend | None:
    """The backend this database was created with, or None before the first migration."""
    exists = conn.execute("SELECT to_regclass('odczyt_settings') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT value FROM odczyt_settings WHERE key = 'backend'").fetchone()
    return None if row is None else row[0]


def choose_backend(conn: psycopg.Connection) -> Backend:
    """The recorded backend, else TimescaleDB when available, else native partitioning."""
    return recorded_backend(conn) or ("timescaledb" if timescale_available(conn) else "native")


def prepare(conn: psycopg.Connection, backend: Backend) -> None:
    """Create the extension when the TimescaleDB backend is used (before any migration needs it)."""
    if backend == "timescaledb":
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


def expand_hooks(sql: str, backend: Backend) -> str:
    """Replace every ``/*@hook args*/`` comment in a migration with the backend's SQL."""

    def repl(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split()
        if name == "timeseries":
            table, column, *chunk = args
            return _timeseries(table, column, " ".join(chunk) or "7 days", backend)
        if name == "rollups":
            return _ROLLUPS_TIMESCALE if backend == "timescaledb" else _ROLLUPS_NATIVE
        if name == "timescaledb":  # the migration's SQL between this hook and /*@end*/ runs on TimescaleDB only
            return "" if backend == "timescaledb" else "/*"
        if name == "end":
            return "" if backend == "timescaledb" else "*/"
        raise ValueError(f"unknown migration hook @{name}")

    return _HOOK.sub(repl, sql)


def _timeseries(table: str, column: str, chunk: str, backend: Backend) -> str:
    if backend == "timescaledb":
        return (f";\nSELECT create_hypertable('{table}', '{column}', "
                f"chunk_time_interval => interval '{chunk}');\n"
                f"ALTER TABLE {table} SET (timescaledb.compress, "
                f"timescaledb.compress_orderby = '{column} DESC')")
    return (f"PARTITION BY RANGE ({column});\n"
            f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT;\n"
            f"SELECT odczyt_ensure_partitions('{table}', 3)")


_ROLLUP_COLUMNS = """
    count(*)::int                                  AS readings,
    (count(*) FILTER (WHERE source <> 3))::int     AS actual_readings,
    min(measured_at)                               AS first_at,
    first(total_m3, measured_at)                   AS first_m3,
    max(measured_at)                               AS last_at,
    last(total_m3, measured_at)                    AS last_m3,
    max(flow_m3h)                                  AS max_flow_m3h,
    bit_or(alarms)                                 AS alarms
"""

_ROLLUPS_TIMESCALE = f"""
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'meter_key',
                          timescaledb.compress_orderby = 'measured_at DESC');
CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS
SELECT meter_key, time_bucket('1 hour', measured_at) AS bucket, {_ROLLUP_COLUMNS}
  FROM readings GROUP BY meter_key, time_bucket('1 hour', measured_at) WITH NO DATA;
CREATE MATERIALIZED VIEW readings_daily WITH (timescaledb.continuous) AS
SELECT meter_key, time_bucket('1 day', measured_at, '{ROLLUP_TZ}') AS bucket, {_ROLLUP_COLUMNS}
  FROM readings GROUP BY meter_key, time_bucket('1 day', measured_at, '{ROLLUP_TZ}') WITH NO DATA;
SELECT add_continuous_aggregate_policy('readings_hourly', start_offset => interval '7 days',
       end_offset => interval '5 minutes', schedule_interval => interval '5 minutes');
SELECT add_continuous_aggregate_policy('readings_daily', start_offset => interval '14 days',
       end_offset => interval '1 hour', schedule_interval => interval '30 minutes');
"""

_ROLLUP_TABLE = """
    meter_key       bigint NOT NULL,
    bucket          timestamptz NOT NULL,
    readings        integer NOT NULL,
    actual_readings integer NOT NULL,
    first_at        timestamptz NOT NULL,
    first_m3        double precision,
    last_at         timestamptz NOT NULL,
    last_m3         double precision,
    max_flow_m3h    double precision,
    alarms          integer NOT NULL,
    PRIMARY KEY (meter_key, bucket)
"""

_ROLLUPS_NATIVE = f"""
CREATE TABLE readings_hourly ({_ROLLUP_TABLE});
CREATE TABLE readings_daily ({_ROLLUP_TABLE});
-- Hours that received readings since their rollup was last computed (the ingest merge marks them).
CREATE TABLE rollup_dirty (bucket timestamptz PRIMARY KEY);
"""


_JOBS = """
SELECT j.job_id, j.hypertable_name, j.proc_name, coalesce(j.config->>'compress_after', j.config->>'drop_after')
  FROM timescaledb_information.jobs j
 WHERE j.proc_name IN ('policy_compression', 'policy_retention') AND j.hypertable_schema = current_schema()
"""


def apply_policies(conn: psycopg.Connection, *, compress_after: str | None,
                   retention: dict[str, str | None]) -> int:
    """Make the compression and retention jobs of ``readings`` and ``raw_frames`` match the configured policies
    (``''``/None: no job); a job already configured so is left alone (its schedule kept). Returns jobs changed."""
    have = {(table, proc): (job, value) for job, table, proc, value in conn.execute(_JOBS)}
    changed = 0
    for table in ("readings", "raw_frames"):
        for proc, want, add in (("policy_compression", compress_after, "add_compression_policy"),
                                ("policy_retention", retention.get(table), "add_retention_policy")):
            job, value = have.get((table, proc), (None, None))
            if job is not None and want and _same_interval(conn, value, want):
                continue
            if job is None and not want:
                continue
            if job is not None:
                conn.execute("SELECT delete_job(%s)", (job,))
            if want:
                conn.execute(f"SELECT {add}(%s, %s::interval)", (table, want))
            changed += 1
    return changed


_CAGG_POLICIES = {"readings_hourly": ("1 hour", "10 minutes"), "readings_daily": ("1 hour", "30 minutes")}


def apply_refresh_window(conn: psycopg.Connection, readings_retention: str | None) -> int:
    """Refresh the continuous aggregates over their whole range — or, when readings expire, only over what the
    retention keeps: a refresh over dropped chunks would empty the aggregates' old buckets (the daily rollup
    outlives the readings, tested). Returns the policies changed."""
    want = None
    if readings_retention:
        row = conn.execute("SELECT CASE WHEN %(r)s::interval > interval '14 days' THEN %(r)s::interval - "
                           "interval '7 days' ELSE %(r)s::interval / 2 END::text", {"r": readings_retention}).fetchone()
        want = row[0] if row else None
    changed = 0
    for view, (end, every) in _CAGG_POLICIES.items():
        row = conn.execute("SELECT config->>'start_offset' FROM timescaledb_information.jobs WHERE proc_name = "
                           "'policy_refresh_continuous_aggregate' AND hypertable_name = %s", (view,)).fetchone()
        if row is not None and (row[0] == want or (row[0] and want and _same_interval(conn, row[0], want))):
            continue
        conn.execute("SELECT remove_continuous_aggregate_policy(%s, if_exists => true)", (view,))
        conn.execute("SELECT add_continuous_aggregate_policy(%s, start_offset => %s::interval, "
                     "end_offset => %s::interval, schedule_interval => %s::interval)", (view, want, end, every))
        changed += 1
    return changed


def _same_interval(conn: psycopg.Connection, a: str | None, b: str) -> bool:
    row = conn.execute("SELECT %s::interval = %s::interval", (a, b)).fetchone()
    return bool(row and row[0])
