"""storage.writer.write_batch: the probe path's one-round-trip probe, its fallback, dirty marking, replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.types import Reading, ReadingSource
from storage import copybin, writer, writer_copy
from storage.errors import TransientStorageError
from storage.rows import FrameStatus, StoredFrame
from storage.writer import write_batch

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _reading(mid: str, at: datetime, total: float, access: int | None = 0) -> Reading:
    return Reading(meter_id=mid, manufacturer="KAM", measured_at=at, received_at=at, total_m3=total,
                   source=ReadingSource.RADIO, access_number=access)


def _all(conn: psycopg.Connection, sql: str) -> list[tuple[object, ...]]:
    return conn.execute(sql).fetchall()


@pytest.mark.parametrize("strategy", ["probe", "staging"])
def test_marks_the_hours_it_touched_dirty_in_utc(db_url: str, strategy: str) -> None:
    at = datetime(2026, 11, 3, 10, 59, 59, 999999, tzinfo=UTC)
    rows = [_reading("00000001", at, 1.0, access=1), _reading("00000002", at + timedelta(hours=3, seconds=1), 2.0)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        if not writer.is_native(conn):
            pytest.skip("rollup_dirty is the native backend's (TimescaleDB's continuous aggregates track their own)")
        conn.execute("DELETE FROM rollup_dirty")
        assert write_batch(conn, readings=rows, dedupe_window_s=120, strategy=strategy).readings_inserted == 2
        got = {b for (b,) in _all(conn, "SELECT bucket FROM rollup_dirty")}
        want = {b for (b,) in _all(conn, "SELECT DISTINCT date_trunc('hour', measured_at, 'UTC') FROM readings")}
    assert got == want == {datetime(2026, 11, 3, 10, tzinfo=UTC), datetime(2026, 11, 3, 14, tzinfo=UTC)}


def test_probe_keeps_a_reading_without_access_number_and_drops_a_window_copy(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[_reading("00000001", T0, 1.0, access=7),
                                    _reading("00000002", T0, 1.0, access=None)], dedupe_window_s=120)
        r = write_batch(conn, readings=[_reading("00000001", T0 + timedelta(seconds=119), 1.0, access=7),  # copy
                                        _reading("00000001", T0 + timedelta(seconds=121), 1.1, access=7),  # outside
                                        _reading("00000002", T0 + timedelta(seconds=16), 1.1, access=None)],
                        dedupe_window_s=120)
        assert (r.readings_inserted, r.readings_duplicate) == (2, 1)
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 4  # type: ignore[index]


@pytest.mark.parametrize("strategy", ["probe", "staging"])
def test_redelivery_is_dropped_and_another_telegram_at_the_same_instant_is_kept(db_url: str, strategy: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[_reading("00000001", T0, 1.0, access=7),
                                    _reading("00000003", T0, 5.0, access=None)], dedupe_window_s=120)
        r = write_batch(conn, readings=[_reading("00000001", T0, 2.0, access=8),  # same instant, other telegram
                                        _reading("00000001", T0, 1.0, access=7),  # redelivery
                                        _reading("00000003", T0, 5.0, access=None),  # redelivered manual reading
                                        _reading("00000002", T0, 3.0, access=7)],  # another meter
                        dedupe_window_s=120, strategy=strategy)
        assert (r.readings_inserted, r.readings_duplicate) == (2, 2)
        assert _all(conn, "SELECT total_m3, access_number FROM readings ORDER BY meter_key, access_number") == [
            (1.0, 7), (2.0, 8), (3.0, 7), (5.0, -1)]


@pytest.mark.parametrize("strategy", ["probe", "staging"])
def test_a_key_repeated_within_a_batch_is_stored_once(db_url: str, strategy: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = [_reading("00000001", T0, 1.0, access=7), _reading("00000001", T0, 1.0, access=7),
                _reading("00000002", T0, 2.0, access=7)]
        r = write_batch(conn, readings=rows, dedupe_window_s=120, strategy=strategy)
        assert (r.readings_inserted, r.readings_duplicate) == (2, 1)
        assert _all(conn, "SELECT total_m3 FROM readings ORDER BY meter_key") == [(1.0,), (2.0,)]


def test_probe_reads_indexes_only(db_url: str) -> None:
    """The probe must stay a per-row index lookup: a hashed subplan or a heap filter costs 3–10× as much."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[_reading(f"{i:08d}", T0 + timedelta(seconds=s), 1.0, access=s % 256)
                                    for i in range(1, 200) for s in range(0, 160, 16)], dedupe_window_s=120)
        conn.execute("VACUUM ANALYZE readings")
        with conn.transaction(), conn.cursor() as cur:
            for statement in writer._LOCK_AND_SET:
                cur.execute(statement)
            native = writer.is_native(conn)
            sql = writer._PROBE.format(readings="readings_p202611" if native else "readings",
                                       frames="raw_frames_p202611" if native else "raw_frames")
            params = {"hours": [], "w": timedelta(seconds=120),
                      "k": writer_copy.Int8Array(copybin.int8_array([5, 6])),
                      "t": writer_copy.TimestamptzArray(copybin.timestamptz_array([T0, T0])),
                      "a": writer_copy.Int2Array(copybin.int2_array([3, -1])),
                      "d": writer_copy.ByteaArray(copybin.bytea_array([bytes(8)])),
                      "ft": writer_copy.TimestamptzArray(copybin.timestamptz_array([T0]))}
            plan = "\n".join(row[0] for row in cur.execute("EXPLAIN " + sql, params))
        assert "Seq Scan on readings" not in plan and "Seq Scan on raw_frames" not in plan, plan
        assert "hashed" not in plan and "Hash" not in plan, plan
        if not native:  # a hypertable's plan has one scan per chunk (none while raw_frames has no chunk)
            return
        assert plan.count("Index Only Scan") == 2, plan
        assert "Filter: " not in plan.split("Index Only Scan")[1], plan  # every readings condition in the index


def test_array_parameters_round_trip(db_url: str) -> None:
    times = [T0, T0 + timedelta(microseconds=1), datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        writer.ensure_staging(conn)
        row = conn.execute("SELECT %b, %b, %b, %b, %b", (
            writer_copy.Int8Array(copybin.int8_array([-(2**63), 0, 2**63 - 1])),
            writer_copy.Int2Array(copybin.int2_array([-1, 255])),
            writer_copy.TimestamptzArray(copybin.timestamptz_array(times)),
            writer_copy.ByteaArray(copybin.bytea_array([b"", b"\x00\xff"])),
            writer_copy.Int8Array(copybin.int8_array([])))).fetchone()
    assert row == ([-(2**63), 0, 2**63 - 1], [-1, 255], times, [b"", b"\x00\xff"], [])


def test_probe_conflict_rolls_back_and_redoes_the_batch_with_staging(db_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    stored = _reading("00000001", T0, 1.0, access=1)
    fresh = _reading("00000001", T0 + timedelta(minutes=5), 2.0, access=2)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[stored])
        # A probe that sees nothing, as if a writer bypassing the merge lock had stored the row meanwhile.
        monkeypatch.setattr(writer, "_PROBE", "SELECT NULL::int8, NULL::timestamptz, NULL::int2, NULL::bytea "
                            "WHERE false AND %(w)s IS NULL AND %(k)b IS NULL AND %(t)b IS NULL "
                            "AND %(a)b IS NULL AND %(d)b IS NULL AND %(ft)b IS NULL -- {readings} {frames}")
        r = write_batch(conn, readings=[stored, fresh], dedupe_window_s=120)
        assert (r.readings_inserted, r.readings_duplicate) == (1, 1)
        assert _all(conn, "SELECT total_m3 FROM readings ORDER BY measured_at") == [(1.0,), (2.0,)]
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_replace_overwrites_the_stored_values(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[_reading("00000001", T0, 1.0, access=1)])
        r = write_batch(conn, readings=[_reading("00000001", T0, 9.5, access=3)], replace=True)
        assert r.readings_inserted == 1
        assert _all(conn, "SELECT total_m3, access_number FROM readings") == [(9.5, 3)]
        write_batch(conn, readings=[_reading("00000001", T0, 9.75, access=3)], replace=True)  # same key again
        assert _all(conn, "SELECT total_m3, access_number FROM readings") == [(9.75, 3)]


def test_a_closed_connection_raises_transient(db_url: str) -> None:
    conn = psycopg.connect(db_url, autocommit=True)
    conn.close()
    with pytest.raises(TransientStorageError):
        write_batch(conn, readings=[_reading("00000001", T0, 1.0)])


@pytest.mark.parametrize("strategy", ["probe", "staging"])
def test_frames_heard_again_get_the_reception_appended_and_redelivery_changes_nothing(db_url: str,
                                                                                       strategy: str) -> None:
    def frame(digest: bytes, gateway: str, at: datetime, rssi: float) -> StoredFrame:
        return StoredFrame(received_at=at, frame_digest=digest, payload=b"\x0b\x44" + digest,
                           status=FrameStatus.DECODED,
                           gateways=(gateway,), rssi_dbm=(rssi,), heard_at=(at,))

    a, b = b"A" * 8, b"B" * 8
    later = T0 + timedelta(seconds=2)
    with psycopg.connect(db_url, autocommit=True) as conn:
        first = write_batch(conn, frames=[frame(a, "gw-a", T0, -70.0)], dedupe_window_s=120, strategy=strategy)
        second = [frame(a, "gw-b", later, -90.0), frame(b, "gw-b", later, -91.0)]
        r2 = write_batch(conn, frames=second, dedupe_window_s=120, strategy=strategy)
        r3 = write_batch(conn, frames=second, dedupe_window_s=120, strategy=strategy)
        stored = _all(conn, "SELECT frame_digest, gateways, rssi_dbm, heard_at FROM raw_frames ORDER BY frame_digest")
    assert (first.frames_inserted, r2.frames_inserted, r2.frames_merged) == (1, 1, 1)
    assert (r3.frames_inserted, r3.frames_merged) == (0, 0)
    assert stored == [(a, ["gw-a", "gw-b"], [-70.0, -90.0], [T0, later]), (b, ["gw-b"], [-91.0], [later])]
