"""Ingest worker against real Mosquitto and PostgreSQL: nothing lost, nothing duplicated."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
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
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker

RUN = uuid.uuid4().hex[:8]


def _prefix(tmp_path: Path) -> str:
    """A topic prefix unique to this run: offline sessions of earlier runs still hold a share of old ones."""
    return f"{tmp_path.name}-{RUN}"


def _worker(db_url: str, mqtt_url: str, client_id: str, **kw: object) -> IngestWorker:
    """A worker on a topic prefix of its test's own (a stopped worker's persistent session keeps its share)."""
    settings = IngestSettings(batch_size=200, batch_ms=50, dedupe_window_s=120)
    prefix = f"t/{client_id.rsplit('/', 1)[-1]}"
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, settings=settings, master_key=MASTER,
                        client_id=f"{client_id.replace('/', '-')}-{uuid.uuid4().hex[:8]}", maintenance_every_s=3600,
                        mqtt_settings=MqttSettings(topic_prefix=prefix), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("processes", [0, 1], ids=["in-thread", "decode-pool"])
def test_ingest_commits_every_reading_once_despite_duplicate_deliveries(db_url: str, mqtt_broker,
                                                                        tmp_path: Path, processes: int) -> None:
    ids = register_meters(db_url, tmp_path, 20)
    messages = make_messages(ids, rounds=5)
    worker = _worker(db_url, mqtt_broker.url, f"w-dup/{_prefix(tmp_path)}", decode_processes=processes).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, f"t/{_prefix(tmp_path)}")
    try:
        assert worker.wait_connected()
        pub.publish(messages + messages[:5])  # the first five messages delivered twice
        wait_for(lambda: worker.stats.frames_in >= 150, what="all frames received")
        wait_for(lambda: count(db_url) == 100, what="100 readings")
        assert worker.stats.duplicates == 50
        assert count(db_url, "SELECT count(*) FROM raw_frames") == 100
    finally:
        pub.close()
        worker.stop()
    assert count(db_url) == 100


def test_same_telegram_from_two_gateways_is_one_reading_with_both_receptions(db_url: str, mqtt_broker,
                                                                            tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 3)
    frames = [(telegram(mid, 7), T0) for mid in ids]
    worker = _worker(db_url, mqtt_broker.url, f"w-gw/{_prefix(tmp_path)}").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, f"t/{_prefix(tmp_path)}")
    try:
        assert worker.wait_connected()
        pub.publish([frames_message("gw-a", frames, rssi=-70)], topic="gw-a")
        wait_for(lambda: count(db_url) == 3, what="3 readings")
        later = [(f, T0.replace(microsecond=300_000)) for f, _ in frames]
        pub.publish([frames_message("gw-b", later, rssi=-90)], topic="gw-b")
        wait_for(lambda: count(db_url, "SELECT count(*) FROM raw_frames WHERE cardinality(gateways) = 2") == 3,
                 what="both receptions on every frame")
    finally:
        pub.close()
        worker.stop()
    assert count(db_url) == 3
    assert count(db_url, "SELECT count(*) FROM raw_frames") == 3


def test_poison_messages_become_dead_letters_and_are_acked(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 2)
    poison = [b"not json at all", b'{"v": 1, "gateway": "g", "frames": [{"received_at": "2026-11-20T08:00:00Z", '
              b'"frame_hex": "ZZ"}]}', b'{"v": 7}', b"\x00" * (9 * 1024 * 1024)]
    worker = _worker(db_url, mqtt_broker.url, f"w-poison/{_prefix(tmp_path)}").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, f"t/{_prefix(tmp_path)}")
    try:
        assert worker.wait_connected()
        pub.publish(poison + make_messages(ids, rounds=1))
        wait_for(lambda: count(db_url, "SELECT count(*) FROM dead_letters") == 4, what="4 dead letters")
        wait_for(lambda: count(db_url) == 2, what="good readings")
        wait_for(lambda: worker.stats.messages_acked == 5, what="every message acked")
    finally:
        pub.close()
        worker.stop()
    reasons = count(db_url, "SELECT count(DISTINCT reason) FROM dead_letters")
    assert reasons == 4  # not_json, bad_hex, schema, too_large


def test_unknown_meter_and_missing_key_frames_are_kept_not_dropped(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    register_meters(db_url, tmp_path, 1, key=None)  # 00000001 known, without a key
    items = [(telegram("00000001", 1), T0), (telegram("99999999", 1), T0)]
    worker = _worker(db_url, mqtt_broker.url, f"w-unk/{_prefix(tmp_path)}").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, f"t/{_prefix(tmp_path)}")
    try:
        assert worker.wait_connected()
        pub.publish([frames_message("gw-1", items)])
        wait_for(lambda: count(db_url, "SELECT count(*) FROM raw_frames") == 2, what="2 raw frames")
    finally:
        pub.close()
        worker.stop()
    assert count(db_url) == 0
    assert count(db_url, "SELECT count(*) FROM raw_frames WHERE status = 2") == 1  # key missing
    assert count(db_url, "SELECT count(*) FROM raw_frames WHERE status = 1") == 1  # unknown meter
    assert worker.stats.undecoded == 2


def test_two_workers_on_one_shared_subscription_split_the_load(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 50)
    messages = make_messages(ids, rounds=8, per_message=5)
    w1 = _worker(db_url, mqtt_broker.url, f"w-s1/{_prefix(tmp_path)}").start()
    w2 = _worker(db_url, mqtt_broker.url, f"w-s2/{_prefix(tmp_path)}").start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, f"t/{_prefix(tmp_path)}")
    try:
        assert w1.wait_connected() and w2.wait_connected()
        pub.publish(messages)
        wait_for(lambda: count(db_url) == 400, what="400 readings")
        wait_for(lambda: w1.stats.messages_acked + w2.stats.messages_acked == len(messages), what="all acked")
    finally:
        pub.close()
        w1.stop()
        w2.stop()
    assert w1.stats.frames_in > 0 and w2.stats.frames_in > 0
    assert count(db_url) == 400


def _session_present(host: str, port: int, client_id: str) -> bool:
    """Whether the broker still holds a session for ``client_id`` (asked without creating one)."""
    seen: list[bool] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.on_connect = lambda _c, _u, flags, _r, _p: seen.append(bool(flags.session_present))
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    try:
        wait_for(lambda: bool(seen), timeout=10, what="CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return seen[0]


def test_a_retired_worker_leaves_the_group_after_draining_what_the_broker_kept(db_url: str, mqtt_broker,
                                                                              tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 50)
    first = make_messages(ids, rounds=4, per_message=5)
    later = make_messages(ids, rounds=4, per_message=5, start=T0 + timedelta(hours=1), first_round=4)
    topic = f"t/leave-{_prefix(tmp_path)}"
    a_id, b_id = f"leave-a-{uuid.uuid4().hex[:8]}", f"leave-b-{uuid.uuid4().hex[:8]}"

    def worker(client_id: str, **kw: object) -> IngestWorker:
        return IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, master_key=MASTER, client_id=client_id,
                            settings=IngestSettings(batch_size=200, batch_ms=50, dedupe_window_s=120),
                            mqtt_settings=MqttSettings(topic_prefix=topic), maintenance_every_s=3600,
                            **kw)  # type: ignore[arg-type]

    a, b = worker(a_id).start(), worker(b_id).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, topic)
    try:
        assert a.wait_connected() and b.wait_connected()
        b.stop()  # retired, but its persistent session keeps taking a share
        pub.publish(first)
        wait_for(lambda: a.stats.messages_acked > 0, what="worker a at work")
        time.sleep(1.0)
        assert count(db_url) < 200  # b's share waits in the broker
        left = worker(b_id, leave=True).leave_group(idle_s=1.0)
        assert left.messages_acked > 0
        wait_for(lambda: count(db_url) == 200, what="200 readings")
        assert not _session_present(mqtt_broker.host, mqtt_broker.port, b_id)
        pub.publish(later)  # the group is a alone now: nothing waits for b
        wait_for(lambda: count(db_url) == 400, what="400 readings")
        wait_for(lambda: a.stats.messages_acked + left.messages_acked == len(first) + len(later), what="all acked")
    finally:
        pub.close()
        a.stop()
    assert count(db_url) == 400
