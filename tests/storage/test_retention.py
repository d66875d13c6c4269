"""Retention on both backends: old partitions/chunks dropped by the storage policies, billing data kept as
configured (readings kept forever by default; daily rollups outlive the readings they summarise)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from core.types import Reading, ReadingSource
from storage.maintenance import maintain, set_policy
from storage.rows import FrameStatus, StoredFrame
from storage.timescale import recorded_backend
from storage.writer import write_batch

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ANCIENT = NOW - timedelta(days=800)  # older than raw_frames' default retention (730 days)


def _reading(at: datetime, total: float, access: int) -> Reading:
    return Reading(meter_id="00000001", manufacturer="KAM", measured_at=at, received_at=at, total_m3=total,
                   source=ReadingSource.RADIO, access_number=access)


def _frame(at: datetime, n: int) -> StoredFrame:
    return StoredFrame(received_at=at, frame_digest=n.to_bytes(8, "big"), payload=b"\x11" * 20,
                       status=FrameStatus.DECODED, gateways=("gw-1",), rssi_dbm=(-70.0,), heard_at=(at,))


def _count(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _expire(conn: psycopg.Connection) -> None:
    """One maintenance pass; on TimescaleDB the retention jobs it (re)installed are then run at once."""
    maintain(conn)
    if recorded_backend(conn) == "timescaledb":
        for (job,) in conn.execute("SELECT job_id FROM timescaledb_information.jobs "
                                   "WHERE proc_name = 'policy_retention'").fetchall():
            conn.execute("CALL run_job(%s)", (job,))


def _fill(conn: psycopg.Connection) -> None:
    if recorded_backend(conn) == "native":  # monthly partitions for the old data too (not only the default one)
        conn.execute("SELECT odczyt_ensure_partitions('readings', 1, 30)")
        conn.execute("SELECT odczyt_ensure_partitions('raw_frames', 1, 30)")
    hours = [ANCIENT + timedelta(hours=h) for h in range(48)] + [NOW - timedelta(hours=h) for h in range(1, 25)]
    write_batch(conn, readings=[_reading(t, 10.0 + i * 0.01, i % 256) for i, t in enumerate(hours)],
                frames=[_frame(t, i) for i, t in enumerate(hours)], dedupe_window_s=120)
    maintain(conn)  # native: the rollups of what was written are computed


def test_raw_frames_expire_and_readings_are_kept_by_default(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _fill(conn)
        _expire(conn)
        assert _count(conn, "SELECT count(*) FROM raw_frames") == 24  # the 730-day retention dropped the rest
        assert _count(conn, "SELECT count(*) FROM readings") == 72  # readings_retention '' keeps billing data
        if recorded_backend(conn) == "native":
            parts = {r[0] for r in conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                                "ON c.oid = i.inhrelid")}
            assert f"raw_frames_p{ANCIENT:%Y%m}" not in parts  # the partition was dropped …
            assert f"readings_p{ANCIENT:%Y%m}" in parts  # … the readings' one of the same month kept
        else:
            chunks = _count(conn, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = "
                                  f"'raw_frames' AND range_end <= '{ANCIENT + timedelta(days=3):%Y-%m-%d}'")
            assert chunks == 0


def test_readings_retention_drops_old_readings_and_daily_rollups_stay(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _fill(conn)
        days_before = _count(conn, f"SELECT count(*) FROM readings_daily WHERE bucket < '{NOW - timedelta(days=30)}'")
        assert days_before >= 2
        if recorded_backend(conn) == "timescaledb":  # materialize the old days before their chunks go
            conn.execute("CALL refresh_continuous_aggregate('readings_daily', NULL, now() - interval '1 day')")
        set_policy(conn, key="readings_retention", value="400 days")
        _expire(conn)
        _expire(conn)  # a second pass (and rollup refresh) does not bring the dropped days back or lose rollups
        if recorded_backend(conn) == "timescaledb":  # nor does the aggregates' own refresh job
            for (job,) in conn.execute("SELECT job_id FROM timescaledb_information.jobs "
                                       "WHERE proc_name = 'policy_refresh_continuous_aggregate'").fetchall():
                conn.execute("CALL run_job(%s)", (job,))
        assert _count(conn, "SELECT count(*) FROM readings") == 24
        assert _count(conn, f"SELECT count(*) FROM readings_daily WHERE bucket < '{NOW - timedelta(days=30)}'") \
            == days_before
