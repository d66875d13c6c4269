"""End-to-end receipts (issue 13): a frame leaves the gateway's spool only once the database has it.

The broker is killed with ``kill -9`` while frames flow: what it acknowledged (PUBACK) but kept only in memory
is lost by the broker, not by the system — the gateway re-publishes every range not receipted.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from ingest_helpers import MASTER, T0, count, register_meters, telegram, wait_for
from prometheus_client import CollectorRegistry

from collectors.gateway import Gateway
from core.settings import IngestSettings, MqttSettings
from core.types import RawFrame
from pipeline.ingest import IngestWorker
from pipeline.metrics import ingest_metrics

METERS, ROUNDS = 100, 50  # 5,000 distinct telegrams (fewer meters: 50 rounds each)


def _frames(ids: list[str], gateway: str) -> list[RawFrame]:
    return [RawFrame(payload=telegram(mid, r), received_at=T0 + timedelta(seconds=16 * r, milliseconds=i),
                     source=gateway, rssi_dbm=-80.0) for r in range(ROUNDS) for i, mid in enumerate(ids)]


def _worker(db_url: str, mqtt_url: str, prefix: str, died: list[str]) -> IngestWorker:
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=MASTER, client_id=f"w-rc-{uuid.uuid4().hex[:8]}",
                        settings=IngestSettings(batch_size=500, batch_ms=50, dedupe_window_s=120),
                        mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                        metrics=ingest_metrics(CollectorRegistry()), fatal_hook=died.append,
                        journal_path=Path(tempfile.mkdtemp()) / "journal")


def test_receipts_empty_the_spool_only_after_commit(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 10)
    prefix, died = f"t/rc-{uuid.uuid4().hex[:8]}", []
    gw = Gateway("gw-rc", mqtt_broker.url, tmp_path / "spool.db", batch_frames=20, batch_ms=10, topic_prefix=prefix,
                 receipts=True, receipt_timeout_s=5)
    gw.start()
    try:
        for frame in _frames(ids, "gw-rc")[:100]:
            gw.submit(frame)
        wait_for(lambda: gw.stats.published == 100, what="published", timeout=20)
        time.sleep(0.5)
        assert gw.stats.spool_depth == 100  # acknowledged by the broker, but nobody stored them yet
        assert gw.stats.awaiting_receipt + gw.stats.inflight_frames > 0
        worker = _worker(db_url, mqtt_broker.url, prefix, died).start()
        try:
            assert worker.wait_connected()
            wait_for(lambda: gw.stats.spool_depth == 0, what="the spool emptied by receipts", timeout=30)
        finally:
            worker.stop()
    finally:
        gw.stop()
    assert count(db_url) == 100 and gw.stats.receipted == 100 and died == []


def test_broker_killed_mid_stream_loses_and_duplicates_nothing(db_url: str, private_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, METERS)
    frames = _frames(ids, "gw-kill")
    prefix, died = "odczyt/v1", []
    worker = _worker(db_url, private_broker.url, prefix, died).start()
    gw = Gateway("gw-kill", private_broker.url, tmp_path / "spool.db", batch_frames=50, batch_ms=10,
                 topic_prefix=prefix, receipts=True, receipt_timeout_s=10)
    gw.start()
    try:
        assert worker.wait_connected(30)
        feeder = threading.Thread(target=lambda: [gw.submit(f) for f in frames])
        feeder.start()
        wait_for(lambda: count(db_url) >= 1000, what="a part stored", timeout=30)
        private_broker.stop(hard=True)  # kill -9 while frames flow
        time.sleep(1)
        private_broker.start()
        feeder.join()
        wait_for(lambda: count(db_url) == len(frames), what="every telegram stored", timeout=50)
        wait_for(lambda: gw.stats.spool_depth == 0, what="the spool emptied", timeout=30)
    finally:
        gw.stop()
        worker.stop()
    assert count(db_url) == len(frames)  # not one lost
    assert count(db_url, "SELECT count(*) FROM (SELECT meter_key, access_number, total_m3 FROM readings "
                         "GROUP BY 1, 2, 3 HAVING count(*) > 1) d") == 0  # not one duplicated
    assert died == []


def test_broker_restart_with_the_worker_offline_loses_nothing(db_url: str, private_broker, tmp_path: Path) -> None:
    """Mosquitto 2.0 does not restore an offline worker's shared subscription from its persistence file: what
    gateways publish meanwhile reaches no one. The receipts cover the gap: unreceipted ranges are re-published
    once the worker is back (and its subscription re-established on connect)."""
    ids = register_meters(db_url, tmp_path, 40)
    frames = _frames(ids, "gw-rs")  # 2,000 telegrams
    prefix, died = "odczyt/v1", []
    worker = _worker(db_url, private_broker.url, prefix, died).start()
    assert worker.wait_connected(30)
    worker.stop()  # offline, its persistent session kept
    private_broker.stop()  # SIGTERM: a graceful restart
    private_broker.start()
    gw = Gateway("gw-rs", private_broker.url, tmp_path / "spool.db", batch_frames=50, batch_ms=10,
                 topic_prefix=prefix, receipts=True, receipt_timeout_s=3)
    gw.start()
    try:
        for frame in frames:
            gw.submit(frame)
        wait_for(lambda: gw.stats.published >= len(frames), what="published to the broker", timeout=30)
        back = IngestWorker(db_url=db_url, mqtt_url=private_broker.url, master_key=MASTER, client_id=worker.client_id,
                            settings=worker.settings, mqtt_settings=worker.mqtt_settings, maintenance_every_s=3600,
                            metrics=ingest_metrics(CollectorRegistry()), fatal_hook=died.append,
                            journal_path=Path(tempfile.mkdtemp()) / "journal").start()
        try:
            wait_for(lambda: count(db_url) == len(frames), what="every telegram stored", timeout=50)
            wait_for(lambda: gw.stats.spool_depth == 0, what="the spool emptied", timeout=30)
        finally:
            back.stop()
    finally:
        gw.stop()
    assert gw.stats.resent > 0  # measured: all 2,000 re-published (the broker had routed them to no one)
    assert count(db_url) == len(frames) and died == []
