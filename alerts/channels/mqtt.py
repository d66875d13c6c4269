"""MQTT channel: JSON payloads published with QoS 1 to ``odczyt/v1/alerts`` (or the subscription's topic)."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.errors import DeliveryError

DEFAULT_TOPIC = "odczyt/v1/alerts"


class MqttChannel:
    """Keeps one connection to the broker and publishes each payload; reconnects on the next send."""

    def __init__(
        self, host: str, port: int = 1883, *, client_id: str = "odczyt-alerts", timeout_s: float = 5.0
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._client_id = client_id
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connected(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self.close()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id)
        ready = threading.Event()
        client.on_connect = lambda *_a, **_k: ready.set()
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        if not ready.wait(self.timeout_s):
            client.loop_stop()
            raise DeliveryError(f"mqtt {self.host}:{self.port}: no CONNACK in {self.timeout_s} s")
        self._client = client
        return client

    def send(
        self, target: str | None, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None:
        """Publish one payload to topic ``target`` (default ``odczyt/v1/alerts``) and wait for PUBACK."""
        body = json.dumps(payload, sort_keys=True, default=str)
        with self._lock:
            try:
                info = self._connected().publish(target or DEFAULT_TOPIC, body, qos=1)
                info.wait_for_publish(self.timeout_s)
            except (OSError, RuntimeError, ValueError) as exc:
                self.close()
                raise DeliveryError(f"mqtt {self.host}:{self.port}: {exc}") from exc
            if not info.is_published():
                self.close()
                raise DeliveryError(f"mqtt {self.host}:{self.port}: not acknowledged")

    def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
