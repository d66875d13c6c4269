"""Gateway status consumer: ``odczyt/v1/status/+`` → the gateway registry and gateway alerts.

Collectors publish a retained heartbeat (``state: online``) every ``heartbeat_s`` and leave a last will
(``state: offline, reason: lost``); a clean stop publishes ``reason: stopped`` (collectors/status.py,
docs/mqtt-format.md). :class:`GatewayWatcher` subscribes (its own client, not the frames' shared group),
parses each document, upserts ``gateways`` and, on transitions only, raises or resolves ``gateway_offline``;
every heartbeat re-judges ``gateway_degraded`` from the heartbeat history. A periodic check marks gateways
whose heartbeat is overdue as offline (``no heartbeat``): a gateway that lost power without the broker
noticing yet, or whose broker connection is half-open. Alerts and their notifications share a transaction.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from alerts.gateways import DEGRADED, OFFLINE, OFFLINE_SEVERITY, GatewayRules, Sample, degradation, heartbeat_overdue
from alerts.notify import build_payload
from core.settings import GatewaySettings, MqttSettings
from storage import alerts as store
from storage import alerts_outbox as outbox
from storage import gateways as registry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Status:
    """One parsed status document."""

    gateway_id: str
    state: str  # 'online' | 'offline'
    at: datetime
    reason: str | None
    figures: dict[str, Any]
    watchdog_resets: int | None
    doc: dict[str, Any]
    sent_at: datetime | None = None  # the document's own time: one heartbeat sample however many workers read it


def parse_status(topic: str, payload: bytes, received_at: datetime, *, retained: bool = False) -> Status:
    """Parse a status message; ValueError for anything that is not a v1 status document.

    A live message is dated by its reception (gateway clocks drift); a retained one, delivered on subscribe,
    by the time in the document (it may be old: a gateway that went silent keeps its last heartbeat).
    """
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"status on {topic}: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("v") != 1 or doc.get("state") not in ("online", "offline"):
        raise ValueError(f"status on {topic}: not a v1 status document")
    gateway_id = topic.rsplit("/", 1)[-1]
    if not gateway_id or len(gateway_id) > 128:
        raise ValueError(f"status on {topic}: no gateway id")
    sent_at = _time(doc.get("at"))
    at = (sent_at or received_at) if retained else received_at
    if doc["state"] == "offline":
        return Status(gateway_id, "offline", at, str(doc.get("reason") or "lost")[:64], {}, None, doc)
    receivers = [r for r in doc.get("receivers") or [] if isinstance(r, dict)]
    spool: dict[str, Any] = doc["spool"] if isinstance(doc.get("spool"), dict) else {}
    position: dict[str, Any] = doc["position"] if isinstance(doc.get("position"), dict) else {}
    figures = {
        "heartbeat_s": _num(doc.get("heartbeat_s")), "uptime_s": _num(doc.get("uptime_s")),
        "frames_per_min": sum(_num(r.get("frames_per_min")) or 0 for r in receivers) if receivers else None,
        "spool_depth": _int(spool.get("depth")), "spool_max": _int(spool.get("max")),
        "spool_dropped": _int(spool.get("dropped")),
        "receiver": ",".join(str(r.get("kind")) for r in receivers if r.get("kind")) or None,
        "link_mode": ",".join(sorted({str(r.get("link_mode")) for r in receivers if r.get("link_mode")})) or None,
        "firmware": str(doc["firmware"])[:64] if doc.get("firmware") else None,
        "mqtt_protocol": str(doc.get("mqtt_protocol") or "")[:16] or None,
        "lat": _bounded(position.get("lat"), 90), "lon": _bounded(position.get("lon"), 180),
    }
    resets = [_int(r.get("watchdog_resets")) for r in receivers]
    watchdog = sum(r for r in resets if r is not None) if any(r is not None for r in resets) else None
    return Status(gateway_id, "online", at, None, figures, watchdog, doc, sent_at)


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bounded(value: Any, limit: float) -> float | None:
    number = _num(value)
    return number if number is not None and -limit <= number <= limit else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def apply_status(conn: psycopg.Connection, status: Status, settings: GatewaySettings) -> list[tuple[str, str]]:
    """Write one status document and the alert changes it causes (one transaction); returns (event, kind)."""
    subject = f"gw:{status.gateway_id}"
    changes: list[tuple[str, str]] = []
    with conn.transaction():
        if status.state == "offline":
            before = registry.record_offline(conn, gateway_id=status.gateway_id, at=status.at, reason=status.reason
                                             or "lost", status=status.doc)
            if before != "offline":
                changes += _raise(conn, status.gateway_id, OFFLINE, status.at, {"reason": status.reason},
                                  OFFLINE_SEVERITY.get(status.reason or "lost", "critical"))
            return changes
        last = registry.last_heartbeat_at(conn, gateway_id=status.gateway_id)
        if last is not None and status.at <= last:
            return changes  # a retained heartbeat seen before (the watcher restarted): not a sign of life
        registry.record_online(conn, gateway_id=status.gateway_id, at=status.at, figures=status.figures,
                               watchdog_resets=status.watchdog_resets, status=status.doc,
                               history_hours=settings.history_hours, sample_at=status.sent_at)
        changes += _resolve(conn, OFFLINE, subject, status.at, "back online")
        rules = GatewayRules.from_settings(settings)
        history = [Sample(r["at"], r["spool_depth"], r["watchdog_resets"])
                   for r in registry.heartbeat_history(conn, gateway_id=status.gateway_id)]
        evidence = degradation(history, rules)
        if evidence is not None:
            changes += _raise(conn, status.gateway_id, DEGRADED, status.at, evidence, "warning")
        else:
            changes += _resolve(conn, DEGRADED, subject, status.at, "auto")
    return changes


def check_overdue(conn: psycopg.Connection, settings: GatewaySettings, now: datetime) -> list[tuple[str, str]]:
    """Mark online gateways whose heartbeat is overdue offline (``no heartbeat``) and raise their alert."""
    rules = GatewayRules.from_settings(settings)
    changes: list[tuple[str, str]] = []
    for gw in registry.online_gateways(conn):
        if heartbeat_overdue(gw["last_heartbeat_at"], gw["heartbeat_s"], now, rules):
            with conn.transaction():
                if registry.record_offline(conn, gateway_id=gw["id"], at=now, reason="no heartbeat") != "online":
                    continue  # another worker's watcher got there first
                evidence = {"reason": "no heartbeat", "last_heartbeat_at": gw["last_heartbeat_at"].isoformat()}
                changes += _raise(conn, gw["id"], OFFLINE, now, evidence, "critical")
    return changes


def _raise(conn: psycopg.Connection, gateway_id: str, kind: str, at: datetime, evidence: dict[str, Any],
           severity: str) -> list[tuple[str, str]]:
    alert_id = store.insert_alert(conn, kind=kind, subject=f"gw:{gateway_id}", meter_key=None, service_point_id=None,
                                  severity=severity, dedupe_key=at.isoformat(), evidence=evidence, detected_at=at,
                                  now=datetime.now(UTC), gateway_id=gateway_id)
    if alert_id is None:
        return []
    _notify(conn, alert_id, "raised")
    return [("raised", kind)]


def _resolve(conn: psycopg.Connection, kind: str, subject: str, at: datetime, why: str) -> list[tuple[str, str]]:
    alert = store.open_alert_of(conn, kind=kind, subject=subject)
    if alert is None or not store.resolve(conn, alert_id=alert["id"], at=at, resolution=why):
        return []
    _notify(conn, alert["id"], "resolved")
    return [("resolved", kind)]


def _notify(conn: psycopg.Connection, alert_id: int, event: str) -> None:
    row = store.get_alert(conn, alert_id=alert_id)
    assert row is not None
    outbox.enqueue_for_subscribers(conn, alert_id=alert_id, event=event, payload=build_payload(event, row),
                                   at=datetime.now(UTC))


class GatewayWatcher:
    """Subscribes to the status topic and keeps the registry and gateway alerts current (``start``/``stop``).

    With ``mqtt_url=None`` it has no connection of its own: the ingest worker subscribes the status topic on
    its connection and hands each message to :meth:`feed` (a broker that binds client ids to accounts allows
    one connection per account).
    """

    def __init__(self, *, db_url: str, mqtt_url: str | None, settings: GatewaySettings | None = None,
                 mqtt_settings: MqttSettings | None = None, client_id: str = "odczyt-gateways",
                 check_every_s: float | None = None) -> None:
        self.db_url, self.mqtt_url = db_url, mqtt_url
        self.settings = settings or GatewaySettings()
        self.mqtt_settings = mqtt_settings or MqttSettings()
        self.check_every_s = check_every_s or min(self.settings.heartbeat_s / 2, 30.0)
        self.changes: list[tuple[str, str, str]] = []  # (gateway, event, kind), for the CLI and tests
        self._queue: queue.Queue[tuple[str, bytes, datetime, bool]] = queue.Queue()
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = self._make_client(client_id) if mqtt_url is not None else None
        if self._client is None:
            self.subscribed.set()

    @property
    def topic(self) -> str:
        return f"{self.mqtt_settings.topic_prefix}/status/+"

    def _make_client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        if self.mqtt_settings.username:
            pw = self.mqtt_settings.password.get_secret_value() if self.mqtt_settings.password else None
            client.username_pw_set(self.mqtt_settings.username, pw)
        if self.mqtt_settings.tls:
            client.tls_set(ca_certs=str(self.mqtt_settings.ca_file) if self.mqtt_settings.ca_file else None)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(self.topic, qos=1)
        client.on_subscribe = lambda *_a: self.subscribed.set()
        client.on_message = lambda _c, _u, msg: self.feed(msg.topic, bytes(msg.payload), datetime.now(UTC),
                                                          bool(msg.retain))
        return client

    def feed(self, topic: str, payload: bytes, received_at: datetime, retained: bool) -> None:
        """Queue one status message (thread-safe; called from an MQTT network thread)."""
        self._queue.put((topic, payload, received_at, retained))

    def start(self) -> GatewayWatcher:
        """Connect (unless fed by the ingest worker) and handle status messages in a background thread."""
        if self._client is not None and self.mqtt_url is not None:
            url = urlsplit(self.mqtt_url)
            self._client.connect_async(url.hostname or "127.0.0.1", url.port or 1883,
                                       keepalive=self.mqtt_settings.keepalive_s)
            self._client.loop_start()
        self._thread = threading.Thread(target=self._loop, name="odczyt-gateways", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Disconnect and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def _loop(self) -> None:
        conn: psycopg.Connection | None = None
        next_check = 0.0
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.db_url, autocommit=True, connect_timeout=5)
                if item is not None:
                    self._handle(conn, *item)
                now = datetime.now(UTC)
                if now.timestamp() >= next_check:
                    next_check = now.timestamp() + self.check_every_s
                    self.changes += [("*", e, k) for e, k in check_overdue(conn, self.settings, now)]
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # retried on the next connection
                log.warning("gateway status not stored, will retry: %s", exc)
                if item is not None:
                    self._queue.put(item)
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(1.0)
            except Exception:  # one bad message must not end the watcher; it is dropped, not retried forever
                log.exception("gateway status message on %s dropped", item[0] if item else "-")
        if conn is not None:
            conn.close()

    def _handle(self, conn: psycopg.Connection, topic: str, payload: bytes, received_at: datetime,
                retained: bool) -> None:
        if not payload:  # a cleared retained message
            return
        try:
            status = parse_status(topic, payload, received_at, retained=retained)
        except ValueError as exc:
            log.warning("%s", exc)
            return
        for event, kind in apply_status(conn, status, self.settings):
            log.info("gateway %s: %s %s", status.gateway_id, kind, event)
            self.changes.append((status.gateway_id, event, kind))
