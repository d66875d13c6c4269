"""Faults inside the ingest worker (issue 13): poison frames, a refused row, a read-only database, a dead thread."""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from ingest_helpers import (
    MASTER,
    T0,
    Publisher,
    count,
    frames_message,
    make_messages,
    register_meters,
    telegram,
    wait_for,
)
from prometheus_client import CollectorRegistry

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker
from pipeline.ingest_batch import BatchBuilder, Message
from pipeline.ingest_commit import commit_batch
from pipeline.metrics import ingest_metrics
from storage.registry import load_keyring
from storage.writer import write_rows


def _worker(db_url: str, mqtt_url: str, name: str, **kw: object) -> IngestWorker:
    prefix = f"t/{name}-{uuid.uuid4().hex[:8]}"
    kw.setdefault("journal_path", Path(tempfile.mkdtemp()) / "journal")
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=MASTER, client_id=f"{name}-{uuid.uuid4().hex[:8]}",
                        settings=IngestSettings(batch_size=200, batch_ms=50, dedupe_window_s=120),
                        mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                        metrics=ingest_metrics(CollectorRegistry()), **kw)  # type: ignore[arg-type]


def _fatal_recorder() -> tuple[list[str], object]:
    reasons: list[str] = []
    return reasons, reasons.append


def test_poison_frames_cost_only_themselves(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 20)
    good = [json.loads(m) for m in make_messages(ids, rounds=5, per_message=10)]  # 100 readings, 10 messages
    bad = [{"received_at": "0001-01-01T00:00:00+01:00", "frame_hex": "2E44"},
           {"received_at": "9999-12-31T23:59:59-01:00", "frame_hex": "2E44"},
           {"received_at": "2099-01-01T00:00:00.000Z", "frame_hex": "2E44"},
           {"received_at": "2026-11-20T08:00:00Z", "frame_hex": "2E44", "link_mode": "T1\u0000"}]
    for k, frame in enumerate(bad):  # each into a different message, among good frames
        good[k]["frames"].insert(k + 1, frame)
    payloads = [json.dumps(m).encode() for m in good]
    payloads += [b"[" * 100_000, json.dumps({"v": 1, "gateway": "gw\u0000x", "frames": good[9]["frames"]}).encode()]
    reasons, fatal = _fatal_recorder()
    worker = _worker(db_url, mqtt_broker.url, "w-poison", fatal_hook=fatal).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, worker.mqtt_settings.topic_prefix)
    try:
        assert worker.wait_connected()
        pub.publish(payloads)
        wait_for(lambda: worker.stats.messages_acked == len(payloads), what="every message acked")
    finally:
        pub.close()
        worker.stop()
    assert count(db_url) == 100
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 6
    assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'implausible_time'") == 1
    assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'bad_time'") == 2
    assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason IN ('too_many_fields', 'bad_text')") == 2
    assert reasons == []


def test_a_refused_row_is_bisected_out_of_its_batch(db_url: str, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 40)
    with psycopg.connect(db_url, autocommit=True) as conn:
        builder = BatchBuilder(keyring=load_keyring(conn, master_key=MASTER), dedupe_window_s=120)
        for k, payload in enumerate(make_messages(ids, rounds=1, per_message=10)):
            builder.add(Message(k, 1, "t", payload, 0, datetime.now(UTC)))
        batch = builder.take()
        list(batch.frames.values())[17].gateways[0] = "gw\x00bad"  # PostgreSQL refuses NUL in text
        calls = []

        def write(readings, frames, dead) -> int:  # type: ignore[no-untyped-def]
            calls.append(len(readings) + len(frames) + len(dead))
            return write_rows(conn, reading_rows=readings, frame_rows=frames, dead_letters=dead,
                              dedupe_window_s=120).readings_inserted

        inserted = commit_batch(write, batch)
    assert inserted == 40
    assert count(db_url, "SELECT count(*) FROM raw_frames") == 39
    assert count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'storage_error'") == 1
    assert batch.counts["dead:storage_error"] == 1
    assert len(calls) <= 2 + 2 * 8  # the whole batch, then two halves per level down to one row, then the letter


def test_a_read_only_database_is_waited_for_not_dead_lettered(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 10)
    name = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    worker = _worker(db_url, mqtt_broker.url, "w-ro").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, worker.mqtt_settings.topic_prefix)
    try:
        assert worker.wait_connected()
        pub.publish(make_messages(ids, rounds=3))
        wait_for(lambda: worker.stats.db_errors >= 2, what="refused writes", timeout=20)
        assert count(db_url) == 0 and count(db_url, "SELECT count(*) FROM dead_letters") == 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        wait_for(lambda: count(db_url) == 30, what="readings after promotion", timeout=30)
    finally:
        pub.close()
        worker.stop()
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 0


def test_a_thread_that_dies_stops_the_process(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 2)
    died = threading.Event()
    reasons: list[str] = []

    def fatal(reason: str) -> None:
        reasons.append(reason)
        died.set()

    def crash(where: str) -> None:
        if where == "received":
            raise RuntimeError("injected")

    worker = _worker(db_url, mqtt_broker.url, "w-die", fatal_hook=fatal, crash_hook=crash).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, worker.mqtt_settings.topic_prefix)
    try:
        assert worker.wait_connected()
        pub.publish([frames_message("gw-1", [(telegram(ids[0], 1), T0 + timedelta(seconds=1))])])
        assert died.wait(15)
    finally:
        pub.close()
        worker.stop()
    assert len(reasons) == 1 and "batch" in reasons[0] and "injected" in reasons[0]
    assert count(db_url) == 0  # nothing committed, nothing acked: the broker redelivers after the restart


def test_gateway_clock_skew_is_measured_per_gateway(db_url: str, tmp_path: Path) -> None:
    from core.types import RawFrame
    from core.wire import encode_frames

    ids = register_meters(db_url, tmp_path, 2)
    now = datetime.now(UTC)
    frames = [RawFrame(payload=telegram(ids[0], 1), received_at=now - timedelta(seconds=181), source="gw-late")]
    with psycopg.connect(db_url, autocommit=True) as conn:
        builder = BatchBuilder(keyring=load_keyring(conn, master_key=MASTER), dedupe_window_s=120)
    builder.add(Message(1, 1, "t", encode_frames("gw-late", frames, sent_at=now - timedelta(seconds=180)), 0, now))
    builder.add(Message(2, 1, "t", encode_frames("gw-ok", frames, sent_at=now), 0, now))
    skew = builder.take().clock_skew
    assert abs(skew["gw-late"] - 180) < 0.01 and abs(skew["gw-ok"]) < 0.01
