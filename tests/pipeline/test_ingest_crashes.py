"""A worker killed mid-batch, and PostgreSQL restarted mid-stream: still no lost and no duplicated reading."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ingest_helpers import MASTER, Publisher, count, make_messages, register_meters, wait_for

from core.settings import IngestSettings, MqttSettings
from pipeline.embedded import EmbeddedPostgres
from pipeline.ingest import IngestWorker
from storage.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]


def _worker(db_url: str, mqtt_url: str, client_id: str, prefix: str) -> IngestWorker:
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=MASTER, client_id=client_id,
                        settings=IngestSettings(batch_size=100, batch_ms=50),
                        mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600)


@pytest.mark.parametrize("point", ["received", "committed"])
def test_worker_killed_before_ack_loses_and_duplicates_nothing(db_url: str, mqtt_broker, tmp_path: Path,
                                                               point: str) -> None:
    ids = register_meters(db_url, tmp_path, 30)
    client_id, prefix = f"crash-{uuid.uuid4().hex[:8]}", f"t/crash-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("crash_worker.py")), db_url,
                             mqtt_broker.url, client_id, prefix, point], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"connected"
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        pub.publish(make_messages(ids, rounds=10))
        assert proc.wait(timeout=60) == 3
        committed_before = count(db_url)
        assert (committed_before == 0) == (point == "received")
        worker = _worker(db_url, mqtt_broker.url, client_id, prefix).start()  # same session: redelivery
        try:
            wait_for(lambda: count(db_url) == 300, what="all 300 readings after the restart")
            wait_for(lambda: worker._queue.empty(), what="queue drained")
        finally:
            worker.stop()
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert count(db_url) == 300


def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(mqtt_broker, tmp_path: Path) -> None:
    base = Path(f"/var/tmp/odczyt-pgtest-{uuid.uuid4().hex[:8]}")  # postgres must reach it (root-run suites)
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base).start()
    try:
        migrate(pg.url)
        ids = register_meters(pg.url, tmp_path, 40)
        prefix = f"t/pgr-{uuid.uuid4().hex[:8]}"
        worker = _worker(pg.url, mqtt_broker.url, f"pgr-{uuid.uuid4().hex[:8]}", prefix).start()
        pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
        try:
            assert worker.wait_connected()
            messages = make_messages(ids, rounds=10)
            pub.publish(messages[:20])
            wait_for(lambda: count(pg.url) > 0, what="first readings")
            pg.restart()
            pub.publish(messages[20:])
            wait_for(lambda: count(pg.url) == 400, timeout=90, what="all 400 readings after the restart")
        finally:
            pub.close()
            worker.stop()
        assert count(pg.url) == 400
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
