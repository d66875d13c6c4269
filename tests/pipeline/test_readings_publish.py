"""Readings on MQTT after commit: topics, QoS 1, retained last value, Home Assistant discovery that follows a
service point across a meter replacement — against the test suite's real Mosquitto and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from core.ids import meter_key
from core.settings import IngestSettings, MqttSettings
from core.types import Alarm, alarm_mask
from pipeline.ingest import IngestWorker
from pipeline.readings_publish import ReadingsPublisher, discovery_config, reading_message
from storage.registry import Installation, ServicePoint, upsert_installations, upsert_service_points
from tests.pipeline.ingest_helpers import MASTER, Publisher, make_messages, register_meters, wait_for


class Listener:
    """Collects every message under the given topic filters (retained ones included)."""

    def __init__(self, host: str, port: int, *filters: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, msg: self._add(msg)
        self.client.connect(host, port)
        self.client.loop_start()
        for f in filters:
            self.client.subscribe(f, qos=1)

    def _add(self, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(msg)

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _row(key: int, total: float, at: datetime, alarms: int = 0) -> tuple[object, ...]:
    return (key, at, at, total, None, None, None, 0.01, alarms, 0, 7)


def test_reading_message_and_discovery_config() -> None:
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    man, mid, body = reading_message(_row(meter_key("KAM", "00000042"), 12.5, at,
                                          alarm_mask(frozenset({Alarm.LEAK}))), "SP-1")
    assert (man, mid) == ("KAM", "00000042")
    assert body["total_m3"] == 12.5 and body["measured_at"] == "2026-11-20T08:00:00+00:00"
    assert body["alarms"] == ["leak"] and body["service_point"] == "SP-1" and body["source"] == "radio"
    object_id, config = discovery_config("odczyt/v1/readings/KAM/00000042", "KAM", "00000042", None)
    assert object_id == "odczyt_kam_00000042"
    assert config["device_class"] == "water" and config["state_class"] == "total_increasing"
    assert config["unit_of_measurement"] == "m³" and config["unique_id"] == "odczyt_kam_00000042_total"
    assert discovery_config("t", "KAM", "00000042", "SP 7/1")[0] == "odczyt_sp_SP_7_1"


def test_worker_publishes_committed_readings_with_discovery(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 3)
    run = uuid.uuid4().hex[:8]
    prefix, ha = f"t/rp-{run}", f"ha-{run}"
    with psycopg.connect(db_url) as conn:
        upsert_service_points(conn, points=[ServicePoint("SP-1")])
        upsert_installations(conn, installations=[Installation("SP-1", meter_key("KAM", ids[0]),
                                                               datetime(2026, 1, 1, tzinfo=UTC))])
    listener = Listener(mqtt_broker.host, mqtt_broker.port, f"{prefix}/readings/#", f"{ha}/sensor/#")
    settings = IngestSettings(batch_size=50, batch_ms=50, publish_readings=True, publish_retain=True,
                              ha_discovery=True, ha_prefix=ha)
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, settings=settings, master_key=MASTER,
                          client_id=f"rp-{run}", maintenance_every_s=3600,
                          mqtt_settings=MqttSettings(topic_prefix=prefix)).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        assert worker.wait_connected()
        pub.publish(make_messages(ids, rounds=2))
        first = f"{prefix}/readings/KAM/{ids[0]}"
        wait_for(lambda: len(listener.on(first)) == 2 and len(listener.on(f"{prefix}/readings/KAM/{ids[2]}")) == 2,
                 timeout=30, what="readings on MQTT")
        body = json.loads(listener.on(first)[-1].payload)
        assert body["meter_id"] == ids[0] and body["total_m3"] == 0.001 and body["service_point"] == "SP-1"
        assert listener.on(first)[-1].qos == 1
        sp_config = listener.on(f"{ha}/sensor/odczyt_sp_SP-1/total/config")
        meter_config = listener.on(f"{ha}/sensor/odczyt_kam_{ids[1]}/total/config")
        assert len(sp_config) == 1 and len(meter_config) == 1  # once per sensor, not per reading
        assert json.loads(sp_config[0].payload)["state_topic"] == first
    finally:
        pub.close()
        worker.stop()
        listener.close()
    late = Listener(mqtt_broker.host, mqtt_broker.port, f"{prefix}/readings/#")
    try:  # retained: a new subscriber gets the last value at once
        wait_for(lambda: len(late.on(f"{prefix}/readings/KAM/{ids[1]}")) == 1, timeout=10, what="retained")
        assert late.on(f"{prefix}/readings/KAM/{ids[1]}")[0].retain
    finally:
        late.close()


def test_replacement_keeps_the_service_point_sensor(mqtt_broker) -> None:
    run = uuid.uuid4().hex[:8]
    listener = Listener(mqtt_broker.host, mqtt_broker.port, f"ha-{run}/#", f"p-{run}/#")
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    points = {meter_key("KAM", "00000001"): "SP-9"}
    publisher = ReadingsPublisher(lambda t, p, q, r: client.publish(t, p, qos=q, retain=r).wait_for_publish(10),
                                  IngestSettings(ha_discovery=True, ha_prefix=f"ha-{run}"), f"p-{run}",
                                  lambda keys: {k: points[k] for k in keys if k in points})
    at = datetime(2026, 11, 20, tzinfo=UTC)
    try:
        assert publisher.publish([_row(meter_key("KAM", "00000001"), 500.0, at)]) == 1
        points = {meter_key("KAM", "00000002"): "SP-9"}  # meter 1 replaced by meter 2 at SP-9
        publisher.publish([_row(meter_key("KAM", "00000002"), 0.5, at + timedelta(days=1))])
        publisher.publish([_row(meter_key("KAM", "00000002"), 0.7, at + timedelta(days=2))])
        config_topic = f"ha-{run}/sensor/odczyt_sp_SP-9/total/config"
        wait_for(lambda: len(listener.on(config_topic)) == 2 and len(listener.on(f"p-{run}/readings/KAM/00000002"))
                 == 2, timeout=10, what="configs")
        configs = [json.loads(m.payload) for m in listener.on(config_topic)]
        assert {c["unique_id"] for c in configs} == {"odczyt_sp_SP-9_total"}
        assert [c["state_topic"] for c in configs] == [f"p-{run}/readings/KAM/00000001",
                                                       f"p-{run}/readings/KAM/00000002"]
        assert all(m.retain is False for m in listener.on(f"p-{run}/readings/KAM/00000002"))
    finally:
        client.disconnect()
        client.loop_stop()
        listener.close()


def test_a_failing_lookup_or_broker_never_raises() -> None:
    def broken(*_a: object) -> object:
        raise OSError("broker gone")

    publisher = ReadingsPublisher(broken, IngestSettings(), "p", lambda keys: {})
    assert publisher.publish([_row(meter_key("KAM", "00000001"), 1.0, datetime.now(UTC))]) == 0
