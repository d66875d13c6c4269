"""Gateway status end to end: the real collector's heartbeat and a paho client's last will through Mosquitto into
the gateway registry; gateway_offline raised when a gateway stops, dies or falls silent, resolved when it is
back; gateway_degraded from a growing spool or a firing receiver watchdog."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from collectors.gateway import Gateway
from collectors.status import GatewayStats, heartbeat, offline
from core.ids import meter_key
from core.settings import GatewaySettings, IngestSettings, MqttSettings
from pipeline.analyze import run_analysis
from pipeline.cli import run
from pipeline.gateway_status import GatewayWatcher, apply_status, check_overdue, parse_status
from pipeline.ingest import IngestWorker
from storage import alerts as store
from storage import gateways as registry

pytestmark = pytest.mark.services
FAST = GatewaySettings(heartbeat_s=0.4, offline_after_heartbeats=3, spool_growing_heartbeats=3,
                       spool_growing_min_frames=100)


def wait_for(what: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gateway_alert(db_url: str, gw: str, kind: str, state: str) -> dict[str, Any] | None:
    with psycopg.connect(db_url) as conn:
        rows = store.list_alerts(conn, gateway_id=gw, kind=kind, state=state)
    return rows[0] if rows else None


def gateway_row(db_url: str, gw: str) -> dict[str, Any] | None:
    with psycopg.connect(db_url) as conn:
        return registry.get_gateway(conn, gateway_id=gw)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}/v1"  # retained status messages of other tests stay out of this one


@pytest.fixture
def watcher(db_url: str, mqtt_broker: Any, prefix: str) -> Iterator[GatewayWatcher]:
    w = GatewayWatcher(db_url=db_url, mqtt_url=mqtt_broker.url, settings=FAST,
                       mqtt_settings=MqttSettings(topic_prefix=prefix), client_id=f"watch-{uuid.uuid4().hex[:6]}",
                       check_every_s=0.1).start()
    assert w.subscribed.wait(10)
    yield w
    w.stop()


def test_collector_stop_raises_gateway_offline_and_restart_resolves_it(
        db_url: str, mqtt_broker: Any, prefix: str, watcher: GatewayWatcher, tmp_path: Path) -> None:
    def collector() -> Gateway:
        return Gateway("gw-e2e", mqtt_broker.url, tmp_path / "spool.sqlite", heartbeat_s=0.3,
                       topic_prefix=prefix).start()

    gw = collector()
    row = wait_for(lambda: gateway_row(db_url, "gw-e2e"))
    assert row["state"] == "online" and row["spool_depth"] == 0 and row["mqtt_protocol"]
    assert row["heartbeat_s"] == 0.3 and row["firmware"].startswith("odczyt")  # announced by the collector
    gw.stop()
    alert = wait_for(lambda: gateway_alert(db_url, "gw-e2e", "gateway_offline", "open"))
    assert alert["evidence"] == {"reason": "stopped"} and alert["subject"] == "gw:gw-e2e"
    assert gateway_row(db_url, "gw-e2e")["reason"] == "stopped"  # type: ignore[index]
    gw = collector()
    try:
        resolved = wait_for(lambda: gateway_alert(db_url, "gw-e2e", "gateway_offline", "resolved"))
        assert resolved["id"] == alert["id"] and resolved["resolution"] == "back online"
        assert gateway_row(db_url, "gw-e2e")["state"] == "online"  # type: ignore[index]
    finally:
        gw.stop()


def test_the_ingest_worker_feeds_the_watcher_on_its_own_connection(
        db_url: str, mqtt_broker: Any, prefix: str, tmp_path: Path) -> None:
    # a broker binding client ids to accounts allows the worker one connection: status rides on it
    watcher = GatewayWatcher(db_url=db_url, mqtt_url=None, settings=FAST, check_every_s=0.1).start()
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_broker.url, settings=IngestSettings(shared_group="gwtest"),
                          master_key=None, client_id=f"ingest-{uuid.uuid4().hex[:6]}",
                          mqtt_settings=MqttSettings(topic_prefix=prefix), status_sink=watcher.feed,
                          maintenance_every_s=3600).start()
    gw = None
    try:
        assert worker.wait_connected(10)
        gw = Gateway("gw-fed", mqtt_broker.url, tmp_path / "spool.sqlite", heartbeat_s=0.3, topic_prefix=prefix).start()
        assert wait_for(lambda: gateway_row(db_url, "gw-fed"))["state"] == "online"
        gw.stop()
        gw = None
        assert wait_for(lambda: gateway_alert(db_url, "gw-fed", "gateway_offline", "open"))["evidence"] == {
            "reason": "stopped"}
        assert worker.stats.messages_acked == 0  # status messages are not frames: acknowledged on arrival
    finally:
        if gw is not None:
            gw.stop()
        worker.stop(end_session=True)
        watcher.stop()


def _paho_gateway(broker: Any, prefix: str, gw: str) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"odczyt-gw-{gw}",
                         protocol=mqtt.MQTTv5)
    client.will_set(f"{prefix}/status/{gw}", offline(gw, "lost"), qos=1, retain=True)
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    return client


def _beat(client: mqtt.Client, prefix: str, gw: str, depth: int = 0) -> None:
    stats = GatewayStats(spool_depth=depth, connected=True)
    doc = heartbeat(gw, stats, [], spool_max=1000, oldest=None, uptime_s=1.0, protocol="5")
    client.publish(f"{prefix}/status/{gw}", doc, qos=1, retain=True).wait_for_publish(5)


def test_last_will_raises_critical_gateway_offline(db_url: str, mqtt_broker: Any, prefix: str,
                                                   watcher: GatewayWatcher) -> None:
    client = _paho_gateway(mqtt_broker, prefix, "gw-will")
    _beat(client, prefix, "gw-will")
    wait_for(lambda: gateway_row(db_url, "gw-will"))
    client.loop_stop()
    client.socket().close()  # power cut: no DISCONNECT, the broker publishes the last will
    alert = wait_for(lambda: gateway_alert(db_url, "gw-will", "gateway_offline", "open"))
    assert alert["severity"] == "critical" and alert["evidence"]["reason"] == "lost"
    back = _paho_gateway(mqtt_broker, prefix, "gw-will")
    try:
        _beat(back, prefix, "gw-will")
        wait_for(lambda: gateway_alert(db_url, "gw-will", "gateway_offline", "resolved"))
    finally:
        back.disconnect()
        back.loop_stop()


def test_no_heartbeat_for_three_intervals_marks_the_gateway_offline(
        db_url: str, mqtt_broker: Any, prefix: str, watcher: GatewayWatcher) -> None:
    client = _paho_gateway(mqtt_broker, prefix, "gw-quiet")
    try:
        _beat(client, prefix, "gw-quiet")
        wait_for(lambda: gateway_row(db_url, "gw-quiet"))
        started = time.monotonic()
        alert = wait_for(lambda: gateway_alert(db_url, "gw-quiet", "gateway_offline", "open"), timeout_s=5)
        assert time.monotonic() - started >= 0.8  # not before 3 × 0.4 s after the heartbeat (minus polling)
        assert alert["evidence"]["reason"] == "no heartbeat"
        assert gateway_row(db_url, "gw-quiet")["reason"] == "no heartbeat"  # type: ignore[index]
    finally:
        client.disconnect()
        client.loop_stop()


def _status(gw: str, at: datetime, depth: int, watchdog: int) -> bytes:
    """The collector's heartbeat document, dated ``at``, with one receiver whose watchdog fired ``watchdog`` times."""
    doc = json.loads(heartbeat(gw, GatewayStats(spool_depth=depth), [], spool_max=10_000, oldest=None, uptime_s=5.0,
                               protocol="5"))
    doc["at"] = at.isoformat().replace("+00:00", "Z")
    doc["receivers"] = [{"kind": "im871a", "link_mode": "T1", "frames_per_min": 12, "watchdog_resets": watchdog}]
    return json.dumps(doc).encode()


def test_growing_spool_or_firing_watchdog_raise_gateway_degraded_and_recovery_resolves(db_url: str) -> None:
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    topic = "odczyt/v1/status/gw-deg"
    with psycopg.connect(db_url, autocommit=True) as conn:
        def feed(i: int, depth: int, watchdog: int) -> list[tuple[str, str]]:
            at = t0 + timedelta(minutes=i)
            return apply_status(conn, parse_status(topic, _status("gw-deg", at, depth, watchdog), at), FAST)

        assert feed(0, 50, 0) == [] and feed(1, 120, 0) == [] and feed(2, 300, 0) == []
        assert feed(3, 700, 0) == [("raised", "gateway_degraded")]  # deeper at 3 heartbeats in a row, ≥ 100
        alert = store.open_alert_of(conn, kind="gateway_degraded", subject="gw:gw-deg")
        assert alert is not None and alert["evidence"]["spool_growing"]["depths"] == [50, 120, 300, 700]
        assert feed(4, 650, 0) == [("resolved", "gateway_degraded")]
        assert feed(5, 10, 2) == [("raised", "gateway_degraded")]  # the receiver watchdog fired twice
        assert feed(6, 5, 2) == [("resolved", "gateway_degraded")]
        row = registry.get_gateway(conn, gateway_id="gw-deg")
        assert row is not None and (row["receiver"], row["link_mode"], row["frames_per_min"]) == ("im871a", "T1", 12)


@pytest.mark.parametrize("payload", [b"not json", b'{"v": 2, "state": "online"}', b'{"v": 1, "state": "maybe"}',
                                     b"[1, 2]"])
def test_parse_status_refuses_what_is_not_a_v1_status_document(payload: bytes) -> None:
    with pytest.raises(ValueError, match="status on"):
        parse_status("odczyt/v1/status/gw-x", payload, datetime.now(UTC))


def test_a_poison_status_is_dropped_and_the_watcher_goes_on(db_url: str) -> None:
    watcher = GatewayWatcher(db_url=db_url, mqtt_url=None, settings=FAST, check_every_s=60).start()
    try:
        now = datetime.now(UTC)
        too_long = b'{"v":1,"state":"online","spool":{"depth":99999999999}}'  # beyond integer: a data error
        watcher.feed("odczyt/v1/status/gw-bad", too_long, now, False)
        watcher.feed("odczyt/v1/status/gw-bad", b'{"v":1,"state":"online","position":{"lat":500,"lon":19.9}}',
                     now, False)
        row = wait_for(lambda: gateway_row(db_url, "gw-bad"))
        assert (row["lat"], row["lon"], row["spool_depth"]) == (None, 19.9, None)  # out-of-range figures ignored
    finally:
        watcher.stop()


def test_silent_meters_of_an_offline_gateway_join_its_outage_incident(db_url: str) -> None:
    now = datetime(2026, 11, 10, tzinfo=UTC)
    heard_at = now - timedelta(days=3)
    keys = [meter_key("KAM", f"0000000{n}") for n in (1, 2, 3)]
    with psycopg.connect(db_url) as conn:
        for n, key in enumerate(keys, start=1):
            conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (%s, 'KAM', %s)",
                         (key, f"0000000{n}"))
            conn.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3, alarms, source) "
                         "VALUES (%s, %s, %s, 1.0, 0, 0)", (key, heard_at, heard_at))
            gws = ["gw-out"] if n < 3 else ["gw-other"]  # meter 3 is heard by another gateway
            conn.execute("INSERT INTO raw_frames (received_at, frame_digest, meter_key, payload, status, gateways, "
                         "rssi_dbm, heard_at) VALUES (%s, %s, %s, %s, 0, %s, %s, %s)",
                         (heard_at, n.to_bytes(8, "big"), key, b"\x00", gws, [-80.0], [heard_at]))
    with psycopg.connect(db_url, autocommit=True) as conn:
        apply_status(conn, parse_status("odczyt/v1/status/gw-out", b'{"v":1,"state":"offline","reason":"lost"}',
                                        heard_at + timedelta(minutes=5)), FAST)
        outage = store.open_alert_of(conn, kind="gateway_offline", subject="gw:gw-out")
    assert outage is not None
    report = run_analysis(db_url, now=now, registry=CollectorRegistry())
    silent = {a["meter_key"]: a["incident_id"] for a in report.raised if a["kind"] == "silent"}
    assert silent[keys[0]] == silent[keys[1]] == outage["incident_id"]  # one outage, not two incidents
    assert silent[keys[2]] != outage["incident_id"]


def test_odczyt_gateways_watch_and_list(db_url: str, mqtt_broker: Any, prefix: str,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = _paho_gateway(mqtt_broker, prefix, "gw-cli")
    try:
        _beat(client, prefix, "gw-cli")  # retained: the watcher gets it when it subscribes
    finally:
        client.disconnect()  # a clean disconnect: no last will
        client.loop_stop()
    monkeypatch.setenv("ODCZYT_MQTT_URL", mqtt_broker.url)
    monkeypatch.setenv("ODCZYT_MQTT__TOPIC_PREFIX", prefix)
    assert run(["gateways", "watch", "--db-url", db_url, "--seconds", "1.5"]) == 0
    assert gateway_row(db_url, "gw-cli")["state"] == "online"  # type: ignore[index]
    capsys.readouterr()
    assert run(["gateways", "list", "--db-url", db_url]) == 0
    assert "gw-cli" in capsys.readouterr().out
    monkeypatch.delenv("ODCZYT_MQTT_URL")
    assert run(["gateways", "watch", "--db-url", db_url, "--seconds", "1"]) == 2  # no broker configured


def test_a_replayed_retained_heartbeat_is_not_a_sign_of_life(db_url: str) -> None:
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    topic = "odczyt/v1/status/gw-old"
    doc = _status("gw-old", t0, 0, 0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert apply_status(conn, parse_status(topic, doc, t0, retained=True), FAST) == []
        assert check_overdue(conn, FAST, t0 + timedelta(minutes=5)) == [("raised", "gateway_offline")]
        # the watcher restarts and the broker hands it the same retained heartbeat again
        assert apply_status(conn, parse_status(topic, doc, t0 + timedelta(minutes=6), retained=True), FAST) == []
        assert registry.get_gateway(conn, gateway_id="gw-old")["state"] == "offline"  # type: ignore[index]
        live = parse_status(topic, doc, t0 + timedelta(minutes=7))  # a live one: dated by its reception
        assert apply_status(conn, live, FAST) == [("resolved", "gateway_offline")]


def test_two_workers_reading_one_heartbeat_store_one_sample(db_url: str) -> None:
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    topic = "odczyt/v1/status/gw-two"
    with psycopg.connect(db_url, autocommit=True) as conn:
        raised = []
        for i, depth in enumerate((50, 120, 300, 700)):
            doc = _status("gw-two", t0 + timedelta(minutes=i), depth, 0)
            for worker_ms in (0, 3):  # the same message, received by two workers a few ms apart
                at = t0 + timedelta(minutes=i, milliseconds=worker_ms)
                raised += apply_status(conn, parse_status(topic, doc, at), FAST)
        assert len(registry.heartbeat_history(conn, gateway_id="gw-two")) == 4
    assert raised == [("raised", "gateway_degraded")]  # the growing spool is seen, and raised once

