"""The gateway killed with ``kill -9`` mid-publish and restarted on its spool: 0 lost, 0 duplicated (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from ingest_helpers import MASTER, count, register_meters, wait_for
from prometheus_client import CollectorRegistry

from collectors.gateway import Gateway
from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker
from pipeline.metrics import ingest_metrics

ROOT = Path(__file__).resolve().parents[2]
METERS, ROUNDS = 100, 50


def test_gateway_killed_mid_publish_loses_and_duplicates_nothing(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    register_meters(db_url, tmp_path, METERS)
    prefix, spool, died = f"t/gk-{uuid.uuid4().hex[:8]}", tmp_path / "spool.db", []
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, master_key=MASTER,
                          client_id=f"w-gk-{uuid.uuid4().hex[:8]}",
                          settings=IngestSettings(batch_size=500, batch_ms=50, dedupe_window_s=120),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                          metrics=ingest_metrics(CollectorRegistry()), fatal_hook=died.append,
                          journal_path=Path(tempfile.mkdtemp()) / "journal").start()
    try:
        assert worker.wait_connected()
        victim = [sys.executable, str(Path(__file__).with_name("gateway_victim.py")), mqtt_broker.url, str(spool),
                  prefix, str(METERS), str(ROUNDS)]
        proc = subprocess.run(victim, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=60,
                              check=False)
        assert proc.returncode == 9, proc.stderr[-2000:]
        spooled, published = map(int, proc.stdout.split())
        assert spooled == METERS * ROUNDS and 0 < published < spooled  # killed mid-publish
        gw = Gateway("gw-victim", mqtt_broker.url, spool, batch_frames=50, batch_ms=10, topic_prefix=prefix,
                     receipts=True, receipt_timeout_s=5).start()
        try:
            wait_for(lambda: count(db_url) == METERS * ROUNDS, what="every telegram stored", timeout=50)
            wait_for(lambda: gw.stats.spool_depth == 0, what="the spool emptied", timeout=30)
        finally:
            gw.stop()
    finally:
        worker.stop()
    assert count(db_url) == METERS * ROUNDS
    assert count(db_url, "SELECT count(*) FROM (SELECT meter_key, access_number FROM readings "
                         "GROUP BY 1, 2 HAVING count(*) > 1) d") == 0
    assert died == []
