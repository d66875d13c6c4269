"""A message that stops the worker twice is quarantined, not redelivered forever (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

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

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker
from pipeline.ingest_poison import PoisonJournal

ROOT = Path(__file__).resolve().parents[2]


def _crashing_run(db_url: str, mqtt_url: str, client_id: str, prefix: str, journal: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("poison_worker.py")), db_url, mqtt_url,
                           client_id, prefix, str(journal)], env=env, capture_output=True, timeout=60, check=False)
    return proc.returncode


def test_a_message_that_kills_the_worker_twice_is_quarantined(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 10)
    prefix, client_id, journal = f"t/poison-{uuid.uuid4().hex[:8]}", f"w-loop-{uuid.uuid4().hex[:8]}", tmp_path / "j"
    good = make_messages(ids, rounds=4)  # 40 readings in 4 messages
    poison = frames_message("poison-gw", [(telegram(ids[0], 99), T0)])
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, master_key=MASTER, client_id=client_id,
                          settings=IngestSettings(batch_size=100, batch_ms=200),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                          journal_path=journal)
    worker.start()  # the session exists before anything is published, then the worker goes away
    assert worker.wait_connected()
    worker.stop()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        pub.publish([*good[:2], poison, *good[2:]])
    finally:
        pub.close()
    assert _crashing_run(db_url, mqtt_broker.url, client_id, prefix, journal) == 3
    assert _crashing_run(db_url, mqtt_broker.url, client_id, prefix, journal) == 3  # the suspect, alone named
    recovered = PoisonJournal(journal)  # what the next start reads (the same recovery)
    recovered.close()
    attempts = {d: n for d, (n, _) in recovered.attempts.items()}
    assert sorted(attempts.values())[-1] == 2  # the poison; its neighbours at most 1
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, master_key=MASTER, client_id=client_id,
                          settings=IngestSettings(batch_size=100, batch_ms=200),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                          journal_path=journal).start()
    try:
        wait_for(lambda: count(db_url, "SELECT count(*) FROM dead_letters WHERE reason = 'quarantined'") == 1,
                 what="the poison quarantined", timeout=30)
        wait_for(lambda: count(db_url) == 40, what="every good reading", timeout=30)
    finally:
        worker.stop()
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 1
    assert not journal.exists()  # everything committed: the journal has nothing left to say
