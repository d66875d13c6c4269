"""The gateway's MQTT session: paho 2 (callback API v2), MQTT 5 with a 3.1.1 fallback, TLS and credentials
when configured, last will, automatic reconnect with exponential backoff.

paho callbacks only record what happened (a flag, an ack in a queue) and wake the worker; all decisions are
taken by the gateway worker thread.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from core.settings import MqttSettings

log = logging.getLogger(__name__)

_UNSUPPORTED_PROTOCOL = (0x84, 1)  # MQTT 5 reason code / MQTT 3.1.1 CONNACK code
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: accepted, but nobody was subscribed, so nobody got it


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: the only form of a broker URL fit for a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class MqttTarget:
    """Where and how to connect."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or a traceback's repr
    tls: bool = False
    ca_file: Path | None = None
    protocol: str = "auto"  # "5", "3.1.1" or "auto" (5, falling back to 3.1.1 if the broker refuses)
    keepalive_s: int = 30
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0

    @classmethod
    def from_url(cls, url: str, mqtt: MqttSettings | None = None, **overrides: Any) -> MqttTarget:
        """``mqtt://[user:pass@]host[:port]`` or ``mqtts://…``, completed by ``MqttSettings``."""
        parts = urlsplit(url)
        mqtt = mqtt or MqttSettings()
        tls = parts.scheme in ("mqtts", "ssl", "tls") or mqtt.tls
        password = unquote(parts.password) if parts.password else (
            mqtt.password.get_secret_value() if mqtt.password else None)
        values: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1", "port": parts.port or (8883 if tls else 1883),
            "username": unquote(parts.username) if parts.username else mqtt.username, "password": password,
            "tls": tls, "ca_file": mqtt.ca_file, "keepalive_s": mqtt.keepalive_s,
        }
        return cls(**{**values, **overrides})


class MqttLink:
    """One paho client, run by paho's network thread; the owner polls :attr:`acks` and :attr:`connected`."""

    def __init__(self, target: MqttTarget, client_id: str, *, max_inflight: int,
                 will: tuple[str, bytes] | None = None, wake: Callable[[], None] = lambda: None,
                 unrouted_is_failure: bool = False, subscribe: str | None = None) -> None:
        self.target, self.client_id, self.max_inflight = target, client_id, max_inflight
        self.subscribe_topic = subscribe  # subscribed (QoS 1) on every connect; its messages go to `inbox`
        self.inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.session_present = False  # what the broker answered to the latest connect
        self.unrouted_is_failure = unrouted_is_failure  # a PUBACK "no matching subscribers" counts as not sent
        self.will, self._wake = will, wake
        self.connected = threading.Event()
        self.acks: queue.SimpleQueue[tuple[int, bool]] = queue.SimpleQueue()
        self.connects = 0
        self.last_error = ""
        self._v5 = target.protocol in ("5", "auto")
        self._client = self._make_client()

    @property
    def protocol(self) -> str:
        """The MQTT protocol version in use."""
        return "5" if self._v5 else "3.1.1"

    def _make_client(self) -> paho.Client:
        version = MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=version,
                             clean_session=None if self._v5 else True)
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(self.max_inflight * 2 + 16)
        client.reconnect_delay_set(self.target.backoff_min_s, self.target.backoff_max_s)  # type: ignore[arg-type]
        if self.target.username:
            client.username_pw_set(self.target.username, self.target.password)
        if self.target.tls:
            client.tls_set(ca_certs=str(self.target.ca_file) if self.target.ca_file else None,
                           cert_reqs=ssl.CERT_REQUIRED)
        if self.will:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background; paho retries with backoff until the broker answers."""
        self._client.connect_async(self.target.host, self.target.port, keepalive=self.target.keepalive_s)
        self._client.loop_start()

    def stop(self, last_words: tuple[str, bytes] | None = None, timeout_s: float = 5.0) -> None:
        """Optionally publish a final retained message, then disconnect cleanly."""
        if last_words and self.connected.is_set():
            info = self._client.publish(last_words[0], last_words[1], qos=1, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()  # paho's wake-up socket pair: closed now, not (with a warning) by the GC

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        """Hand one QoS 1 message to paho; its mid, or None if paho refused it (not connected, queue full)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self.last_error = str(reason_code)
            if self._v5 and self.target.protocol == "auto" and reason_code.value in _UNSUPPORTED_PROTOCOL:
                self._v5 = False  # the worker rebuilds the client (cannot be done inside paho's thread)
            return
        self.session_present = bool(getattr(flags, "session_present", False))
        if self.subscribe_topic:
            client.subscribe(self.subscribe_topic, qos=1)
        self.connects += 1
        self.connected.set()
        self._wake()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self.inbox.put(bytes(msg.payload))
        self._wake()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self.connected.clear()
        self.last_error = str(reason_code)
        self._wake()

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        unrouted = self.unrouted_is_failure and reason_code.value == NO_MATCHING_SUBSCRIBERS
        self.acks.put((mid, not reason_code.is_failure and not unrouted))
        self._wake()

    def needs_rebuild(self) -> bool:
        """True after the broker refused MQTT 5 and the client must be recreated for 3.1.1."""
        return self._client.protocol == MQTTProtocolVersion.MQTTv5 and not self._v5

    def rebuild(self) -> None:
        """Recreate the paho client (protocol fallback) and connect again."""
        self._client.loop_stop()
        self._client._reset_sockets()
        self._client = self._make_client()
        log.warning("broker refused MQTT 5, falling back to 3.1.1")
        self.start()
