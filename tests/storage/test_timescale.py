"""TimescaleDB used for real: hypertables, compression and writes into compressed chunks, real-time continuous
aggregates, and the background jobs running (run with ``ODCZYT_TEST_BACKEND=timescaledb``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.types import Reading, ReadingSource
from storage.maintenance import maintain, set_policy
from storage.rows import FrameStatus, StoredFrame
from storage.timescale import recorded_backend
from storage.writer import write_batch

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
OLD = NOW - timedelta(days=60)  # older than compress_after (30 days)


@pytest.fixture
def ts_url(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        if recorded_backend(conn) != "timescaledb":
            pytest.skip("TimescaleDB backend only (ODCZYT_TEST_BACKEND=timescaledb)")
    return db_url


def _reading(mid: str, at: datetime, total: float, access: int) -> Reading:
    return Reading(meter_id=mid, manufacturer="KAM", measured_at=at, received_at=at, total_m3=total,
                   source=ReadingSource.RADIO, access_number=access)


def _frame(at: datetime, n: int) -> StoredFrame:
    return StoredFrame(received_at=at, frame_digest=n.to_bytes(8, "big"), payload=b"\x11" * 20,
                       status=FrameStatus.DECODED, gateways=("gw-1",), rssi_dbm=(-70.0,), heard_at=(at,))


def _one(conn: psycopg.Connection, sql: str, *args: object) -> Any:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return row[0]


def _job(conn: psycopg.Connection, proc: str, table: str) -> int:
    return int(_one(conn, "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s "
                          "AND coalesce(hypertable_name, %s) = %s", proc, table, table))


def _cagg_job(conn: psycopg.Connection, view: str) -> int:
    return _job(conn, "policy_refresh_continuous_aggregate", view)  # the jobs view names the cagg


def _compressed_chunks(conn: psycopg.Connection, table: str) -> int:
    return int(_one(conn, "SELECT count(*) FROM timescaledb_information.chunks "
                          "WHERE hypertable_name = %s AND is_compressed", table))


def _fill(conn: psycopg.Connection) -> None:
    """Two meters, hourly for three days 60 days ago (compressible) and a day up to now."""
    old = [_reading(f"0000000{m}", OLD + timedelta(hours=h), 100 * m + h * 0.01, h % 256)
           for m in (1, 2) for h in range(72)]
    new = [_reading(f"0000000{m}", NOW - timedelta(hours=h), 200 * m - h * 0.01, h % 256)
           for m in (1, 2) for h in range(24)]
    write_batch(conn, readings=old + new, frames=[_frame(OLD + timedelta(hours=h), h) for h in range(48)],
                dedupe_window_s=120)


def test_hypertables_and_compression_settings(ts_url: str) -> None:
    with psycopg.connect(ts_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert {"readings", "raw_frames"} <= tables
        settings = {(r[0], r[1]): (r[2], r[3]) for r in conn.execute(
            "SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index "
            "FROM timescaledb_information.compression_settings")}
        assert settings[("readings", "meter_key")][0] == 1
        assert settings[("readings", "measured_at")][1] == 1
        views = {r[0]: r[1] for r in conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates")}
        assert views == {"readings_hourly": False, "readings_daily": False}


def test_compression_job_runs_and_writes_into_compressed_chunks_work(ts_url: str) -> None:
    with psycopg.connect(ts_url, autocommit=True) as conn:
        _fill(conn)
        conn.execute("CALL run_job(%s)", (_job(conn, "policy_compression", "readings"),))
        conn.execute("CALL run_job(%s)", (_job(conn, "policy_compression", "raw_frames"),))
        assert _compressed_chunks(conn, "readings") >= 1 and _compressed_chunks(conn, "raw_frames") >= 1
        assert _one(conn, "SELECT count(*) FROM readings") == 192
        # a late telegram of a compressed week: stored; another gateway's copy of a compressed one: dropped
        late = _reading("00000001", OLD + timedelta(hours=5, minutes=30), 100.055, 200)
        copy = _reading("00000002", OLD + timedelta(hours=7, seconds=40), 0.0, 7)
        for strategy in ("probe", "staging"):
            r = write_batch(conn, readings=[late, copy], dedupe_window_s=120, strategy=strategy)
            assert (r.readings_inserted, r.readings_duplicate) == ((1, 1) if strategy == "probe" else (0, 2))
        # a frame heard again by another gateway, inside a compressed chunk: its receptions are merged
        again = StoredFrame(received_at=OLD + timedelta(hours=3, seconds=1), frame_digest=(3).to_bytes(8, "big"),
                            payload=b"\x11" * 20, status=FrameStatus.DECODED, gateways=("gw-2",), rssi_dbm=(-80.0,),
                            heard_at=(OLD + timedelta(hours=3, seconds=1),))
        assert write_batch(conn, frames=[again], dedupe_window_s=120).frames_merged == 1
        assert _one(conn, "SELECT gateways FROM raw_frames WHERE frame_digest = %s", (3).to_bytes(8, "big")) \
            == ["gw-1", "gw-2"]
        # redecode (replace): the stored value of a compressed reading is overwritten
        fixed = _reading("00000001", OLD + timedelta(hours=1), 999.0, 1)
        assert write_batch(conn, readings=[fixed], replace=True).readings_inserted == 1
        assert _one(conn, "SELECT total_m3 FROM readings WHERE meter_key = (SELECT meter_key FROM readings "
                          "WHERE total_m3 = 999.0) AND measured_at = %s", fixed.measured_at) == 999.0
        assert _one(conn, "SELECT count(*) FROM readings") == 193


def test_continuous_aggregates_are_real_time_and_refreshed_by_their_job(ts_url: str) -> None:
    with psycopg.connect(ts_url, autocommit=True) as conn:
        _fill(conn)
        daily = "SELECT sum(readings) FROM readings_daily"
        assert _one(conn, daily) == 192  # real-time: nothing materialized yet
        assert _one(conn, "SELECT count(*) FROM _timescaledb_catalog.continuous_agg") == 2
        conn.execute("CALL run_job(%s)", (_cagg_job(conn, "readings_hourly"),))
        materialized = ("SELECT count(*) FROM readings_hourly WHERE bucket < now() - interval '2 hours'")
        hourly_mat = _one(conn, "SELECT materialization_hypertable_name FROM "
                                "timescaledb_information.continuous_aggregates WHERE view_name = 'readings_hourly'")
        assert _one(conn, f"SELECT count(*) FROM _timescaledb_internal.{hourly_mat}") == _one(conn, materialized)
        assert _one(conn, materialized) > 0
        # a late reading into a materialized hour: visible after the job runs again
        late = _reading("00000001", OLD + timedelta(hours=5, minutes=30), 100.055, 200)
        write_batch(conn, readings=[late], dedupe_window_s=120)
        hour = ("SELECT readings FROM readings_hourly WHERE bucket = %s "
                "AND meter_key = (SELECT meter_key FROM readings WHERE total_m3 = 100.055)")
        conn.execute("CALL run_job(%s)", (_cagg_job(conn, "readings_hourly"),))
        assert _one(conn, hour, OLD + timedelta(hours=5)) == 2


def test_the_scheduler_runs_a_due_job_by_itself(ts_url: str) -> None:
    with psycopg.connect(ts_url, autocommit=True) as conn:
        _fill(conn)
        job = _job(conn, "policy_compression", "readings")
        conn.execute("SELECT alter_job(%s, next_start => now())", (job,))
        # the launcher finds a new database within bgw_launcher_poll_time (60 s); ask it now instead
        conn.execute("SELECT _timescaledb_functions.start_background_workers()")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _compressed_chunks(conn, "readings") == 0:
            time.sleep(0.3)
        assert _compressed_chunks(conn, "readings") >= 1
        assert _one(conn, "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s",
                    job) == "Success"


def test_maintain_installs_the_configured_policies_and_leaves_unchanged_jobs_alone(ts_url: str) -> None:
    with psycopg.connect(ts_url, autocommit=True) as conn:
        jobs = "SELECT job_id, hypertable_name, proc_name FROM timescaledb_information.jobs ORDER BY 1"
        before = conn.execute(jobs).fetchall()
        maintain(conn)
        assert conn.execute(jobs).fetchall() == before  # the migration's jobs already match the policies
        set_policy(conn, key="readings_retention", value="3650 days")
        set_policy(conn, key="compress_after", value="")
        maintain(conn)
        got = {(t, p) for _, t, p in conn.execute(jobs)}
        assert ("readings", "policy_retention") in got
        assert not any(p == "policy_compression" for _, p in got)
        assert _one(conn, "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE "
                          "hypertable_name = 'readings' AND proc_name = 'policy_retention'") == "3650 days"
