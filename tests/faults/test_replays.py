"""A telegram is one reading whatever the gateways' clocks say and however late it is replayed (issue 13)."""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from ingest_helpers import MASTER, T0, Publisher, count, frames_message, register_meters, telegram, wait_for
from prometheus_client import CollectorRegistry

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker
from pipeline.metrics import ingest_metrics


def _run(db_url: str, mqtt_url: str, rounds: list[list[tuple[str, bytes]]]) -> IngestWorker:
    """Publish each round (``(gateway, message)``s) and wait until the worker acked it, round after round."""
    prefix = f"t/rp-{uuid.uuid4().hex[:8]}"
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=MASTER, client_id=f"w-rp-{uuid.uuid4().hex[:8]}",
                          settings=IngestSettings(batch_size=200, batch_ms=50, dedupe_window_s=120),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                          metrics=ingest_metrics(CollectorRegistry()), fatal_hook=print,
                          journal_path=Path(tempfile.mkdtemp()) / "journal").start()
    pub = Publisher("127.0.0.1", int(mqtt_url.rsplit(":", 1)[1]), prefix)
    try:
        assert worker.wait_connected()
        sent = 0
        for messages in rounds:
            for gateway, message in messages:
                pub.publish([message], topic=gateway)
            sent += len(messages)
            wait_for(lambda sent=sent: worker.stats.messages_acked == sent, what="acked", timeout=30)  # type: ignore[misc]
    finally:
        pub.close()
        worker.stop()
    return worker


def test_gateways_180_s_apart_give_one_reading_per_telegram(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 50)
    items = [(telegram(mid, r), T0 + timedelta(seconds=16 * r, milliseconds=i))
             for r in range(20) for i, mid in enumerate(ids)]  # 1,000 telegrams
    skewed = [(frame, at + timedelta(seconds=180)) for frame, at in items]
    one = [("gw-a", frames_message("gw-a", items[k:k + 100])) for k in range(0, len(items), 100)]
    two = [("gw-b", frames_message("gw-b", skewed[k:k + 100])) for k in range(0, len(skewed), 100)]
    worker = _run(db_url, mqtt_broker.url, [one, two])
    assert count(db_url) == 1000  # not 2,000
    assert worker.stats.duplicates >= 1000


def test_an_old_telegram_replayed_later_does_not_change_the_total(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    meter = register_meters(db_url, tmp_path, 1)[0]
    old, new = telegram(meter, 5, total=751.792), telegram(meter, 6, total=753.958)
    replay = frames_message("gw-x", [(old, T0 + timedelta(days=3))])
    _run(db_url, mqtt_broker.url, [[("gw-a", frames_message("gw-a", [(old, T0)]))],
                                   [("gw-a", frames_message("gw-a", [(new, T0 + timedelta(hours=1))]))],
                                   [("gw-x", replay)]])
    assert count(db_url) == 2
    assert count(db_url, "SELECT round(total_m3 * 1000)::int FROM readings ORDER BY measured_at DESC LIMIT 1") \
        == 753958
    assert count(db_url, "SELECT count(*) FROM raw_frames") >= 2  # the replay is kept as a reception


def test_an_identical_telegram_a_cycle_later_is_a_new_reading(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    meter = register_meters(db_url, tmp_path, 1)[0]
    same = telegram(meter, 7, total=12.5)  # no consumption: the meter sends the same bytes 256 sends later
    _run(db_url, mqtt_broker.url, [[("gw-a", frames_message("gw-a", [(same, T0)]))],
                                   [("gw-a", frames_message("gw-a", [(same, T0 + timedelta(hours=2))]))]])
    assert count(db_url) == 2
