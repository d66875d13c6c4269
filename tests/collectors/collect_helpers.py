"""Helpers shared by the collector tests: a real MQTT subscriber recording every frame, condition waits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.wire import decode_frames


def wait_for(cond: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        time.sleep(0.02)


class Recorder:
    """Subscribes to ``odczyt/v1/#`` at QoS 1 with a persistent session and keeps what arrives."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.frames: list[bytes] = []
        self.messages = 0
        self.status: list[dict] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("odczyt/v1/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)  # type: ignore[arg-type]
        self.client.connect_async(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "test subscriber could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            if "/frames/" in msg.topic:
                _, frames = decode_frames(msg.payload)
                self.frames.extend(f.payload for f in frames)
                self.messages += 1
            elif msg.payload:
                self.status.append(json.loads(msg.payload))

    def count(self) -> int:
        with self._lock:
            return len(self.frames)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
