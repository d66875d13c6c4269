"""Collector throughput: framer → spool → MQTT, and spool drain rate after a broker outage.

Starts its own EmbeddedMosquitto. Figures:

* ``framer_frames_per_s``: iM871A HCI framer alone on an in-memory byte stream;
* ``end_to_end_frames_per_s``: frames submitted to a Gateway until every one is acknowledged by the broker
  and received by a subscriber (spool with synchronous=FULL);
* ``drain_frames_per_s``: frames spooled during an outage, then published after the broker restarts.

Prints the figures and, as the last line, one JSON object.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from collectors.gateway import Gateway
from core.types import LinkMode, RawFrame
from core.wire import decode_frames
from hardware import im871a
from hardware.sim.frames import synthetic_frame
from pipeline.embedded import EmbeddedMosquitto

N_FRAMER = 50_000
N_E2E = 20_000
N_DRAIN = 20_000


class Counter:
    """A subscriber counting received frames."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self._ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{time.monotonic_ns()}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("odczyt/v1/frames/#", qos=1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._ready.wait(10)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        self.count += len(decode_frames(msg.payload)[1])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def bench_framer() -> float:
    """HCI framer frames/s on 4 KiB reads."""
    stream = b"".join(im871a.build(2, 3, synthetic_frame(i, i)[1:], rssi=120) for i in range(N_FRAMER))
    framer = im871a.HciFramer()
    t0 = time.perf_counter()
    n = sum(len(framer.feed(stream[i : i + 4096])) for i in range(0, len(stream), 4096))
    assert n == N_FRAMER
    return N_FRAMER / (time.perf_counter() - t0)


def frames(n: int, offset: int) -> list[RawFrame]:
    now = datetime.now(UTC)
    return [RawFrame(synthetic_frame(offset + i, i), now, "bench", -70.0, LinkMode.T1) for i in range(n)]


def wait(cond, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        time.sleep(0.005)


def bench_end_to_end(broker: EmbeddedMosquitto, spool: Path) -> float:
    counter = Counter(broker.port)
    batch = frames(N_E2E, 10_000_000)
    with Gateway("bench-e2e", broker.url, spool, batch_frames=500, batch_ms=50) as gw:
        t0 = time.perf_counter()
        for f in batch:
            gw.submit(f)
        wait(lambda: counter.count >= N_E2E and gw.wait_drained(0.01), 300)
        rate = N_E2E / (time.perf_counter() - t0)
    counter.close()
    return rate


def bench_drain(broker: EmbeddedMosquitto, spool: Path) -> float:
    gw = Gateway("bench-drain", broker.url, spool, batch_frames=500, batch_ms=50).start()
    try:
        wait(lambda: gw.stats.connected, 30)
        broker.stop()
        for f in frames(N_DRAIN, 20_000_000):
            gw.submit(f)
        wait(lambda: gw.stats.spooled >= N_DRAIN, 300)
        broker.start()
        counter = Counter(broker.port)
        wait(lambda: gw.stats.connected, 60)
        t0 = time.perf_counter()
        wait(lambda: gw.stats.spool_depth == 0 and counter.count >= N_DRAIN, 300)
        rate = N_DRAIN / (time.perf_counter() - t0)
        counter.close()
        return rate
    finally:
        gw.stop()


def main() -> None:
    """Run the three measurements and print them."""
    with tempfile.TemporaryDirectory() as d:
        broker = EmbeddedMosquitto(Path(d)).start()
        try:
            figures = {"framer_frames_per_s": round(bench_framer()),
                       "end_to_end_frames_per_s": round(bench_end_to_end(broker, Path(d) / "e2e.db")),
                       "drain_frames_per_s": round(bench_drain(broker, Path(d) / "drain.db"))}
        finally:
            broker.stop()
    for key, value in figures.items():
        print(f"{key:>26}: {value:,}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
