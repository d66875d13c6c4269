"""A worker killed with ``kill -9`` and replaced under a new client id strands nothing (issue 13).

The broker keeps queueing the dead worker's share in its persistent session; ``odczyt ingest --takeover OLD``
(``IngestWorker(client_id=OLD, leave=True).leave_group()``) drains it and ends the session.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ingest_helpers import MASTER, Publisher, count, make_messages, register_meters, wait_for
from prometheus_client import CollectorRegistry

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker
from pipeline.metrics import ingest_metrics

ROOT = Path(__file__).resolve().parents[2]
CRASH_WORKER = ROOT / "tests" / "pipeline" / "crash_worker.py"


def _worker(db_url: str, mqtt_url: str, client_id: str, prefix: str, journal: Path, **kw: object) -> IngestWorker:
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=MASTER, client_id=client_id,
                        settings=IngestSettings(batch_size=200, batch_ms=50, dedupe_window_s=120),
                        mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                        metrics=ingest_metrics(CollectorRegistry()), fatal_hook=print, journal_path=journal,
                        **kw)  # type: ignore[arg-type]


def test_a_replaced_worker_strands_nothing_after_a_takeover(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 100)
    messages = make_messages(ids, rounds=50, per_message=10)  # 5,000 telegrams in 500 messages
    prefix, old_id = f"t/repl-{uuid.uuid4().hex[:8]}", f"old-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, str(CRASH_WORKER), db_url, mqtt_broker.url, old_id, prefix, "received"],
                            cwd=ROOT, stdout=subprocess.PIPE, env={"PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
                                                                   "PATH": "/usr/bin:/bin"})
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"connected"
    new = _worker(db_url, mqtt_broker.url, f"new-{uuid.uuid4().hex[:8]}", prefix,
                  Path(tempfile.mkdtemp()) / "j").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        assert new.wait_connected()
        pub.publish(messages)
        assert proc.wait(30) == 3  # the old worker died on its first batch, like kill -9
        wait_for(lambda: new.stats.messages_acked > 0, what="the new worker at work")
        time.sleep(1.0)
        stranded = len(ids) * 50 - count(db_url)
        assert stranded > 0  # the old session's share waits in the broker for a worker that will not come back
        left = _worker(db_url, mqtt_broker.url, old_id, prefix, tmp_path / "old.journal",
                       leave=True).leave_group(idle_s=1.0, timeout_s=50)
        assert left.messages_acked > 0
        wait_for(lambda: count(db_url) == 5000, what="every telegram stored", timeout=30)
    finally:
        pub.close()
        new.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert count(db_url) == 5000
    assert count(db_url, "SELECT count(*) FROM (SELECT meter_key, access_number FROM readings "
                         "GROUP BY 1, 2 HAVING count(*) > 1) d") == 0
