"""The fixed gateway: receivers → dedupe → spool (SQLite WAL) → batched QoS 1 publishes → delete on ack.

Threads: one pump per receiver (``receiver.get`` → :meth:`Gateway.submit`), paho's network thread (callbacks
only enqueue acks and wake the worker), and one worker that owns the spool and every decision::

    submit() ──▶ incoming ──▶ worker: dedupe, spool.append ─▶ publish batches (≤ N frames, ≤ T ms wait)
                                  ▲                                   │ odczyt/v1/frames/{gateway_id}
                                  └──── on_publish acks ◀── broker ◀──┘   delete from spool only on ack

At most ``max_inflight`` frame messages are unacknowledged at any time (paho's own window is set to the same
value), far below MQTT's 65,535 message ids. A batch not acknowledged within ``ack_timeout_s`` while
connected, or refused by the broker (MQTT 5 reason code ≥ 0x80), is published again from the spool
(at-least-once).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from collectors.dedupe import Deduper
from collectors.mqtt import MqttLink, MqttTarget
from collectors.receipts import ReceiptTracker
from collectors.spool import Spool
from collectors.status import GatewayStats, heartbeat, offline
from core.settings import CollectorSettings, Settings
from core.types import RawFrame
from core.wire import encode_frames
from hardware.receiver import Receiver

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    first: int
    last: int
    count: int
    sent_at: float


class Gateway:
    """A running fixed gateway (``start()`` / ``stop()``; ``submit()`` for frames from elsewhere)."""

    def __init__(self, gateway_id: str, mqtt: MqttTarget | str, spool_path: Path | str, *,
                 receivers: list[Receiver] | None = None, batch_frames: int = 100, batch_ms: int = 500,
                 dedupe_window_s: float = 30.0, max_inflight: int = 1000, spool_max_frames: int = 5_000_000,
                 spool_synchronous: str = "FULL", heartbeat_s: float = 60.0, topic_prefix: str = "odczyt/v1",
                 ack_timeout_s: float = 60.0, tagger: Callable[[RawFrame], RawFrame] | None = None,
                 hold_unrouted: bool = False, hold_s: float = 5.0, receipts: bool = False,
                 receipt_timeout_s: float = 120.0, memory_max_frames: int = 100_000) -> None:
        self.gateway_id = gateway_id
        self.target = MqttTarget.from_url(mqtt) if isinstance(mqtt, str) else mqtt
        self.receivers = list(receivers or [])
        self.tagger = tagger
        self.batch_frames, self.batch_s = batch_frames, batch_ms / 1000
        self.max_inflight, self.heartbeat_s, self.ack_timeout_s = max_inflight, heartbeat_s, ack_timeout_s
        self.frames_topic = f"{topic_prefix}/frames/{gateway_id}"
        self.status_topic = f"{topic_prefix}/status/{gateway_id}"
        self.stats = GatewayStats()
        self._spool_args = (Path(spool_path), spool_max_frames, spool_synchronous)
        self._spool: Spool | None = None
        self._dedupe = Deduper(dedupe_window_s)
        self._incoming: queue.SimpleQueue[RawFrame] = queue.SimpleQueue()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._inflight: dict[int, _Batch] = {}
        self._retry: deque[tuple[int, int]] = deque()
        self._cursor = 0
        self._unsent_since: float | None = None
        self._next_heartbeat = 0.0
        self._seen_connects = 0
        self._started_at = time.monotonic()
        self.hold_s, self._hold_until = hold_s, 0.0  # after a refused batch, publish again only after hold_s
        self._link = MqttLink(self.target, client_id=f"odczyt-gw-{gateway_id}", max_inflight=max_inflight,
                              will=(self.status_topic, offline(gateway_id, "lost")), wake=self._wake.set,
                              unrouted_is_failure=hold_unrouted)
        self._threads: list[threading.Thread] = []
        # receipts on: a frame leaves the spool on the ingest side's receipt, not on PUBACK (collectors/receipts.py)
        self.receipts, self.receipt_timeout_s = receipts, receipt_timeout_s
        self._receipts: ReceiptTracker | None = None
        self.memory_max_frames = memory_max_frames  # newest frames held while the spool's disk is full
        self._held: list[RawFrame] = []
        if receipts:
            self._link.subscribe_topic = f"{topic_prefix}/receipts/{gateway_id}"

    @classmethod
    def from_settings(cls, settings: Settings, receivers: list[Receiver] | None = None,
                      mqtt_url: str | None = None) -> Gateway:
        """Build a gateway from ``Settings.collector`` / ``Settings.mqtt``."""
        c: CollectorSettings = settings.collector
        target = MqttTarget.from_url(mqtt_url or settings.mqtt_url or "mqtt://127.0.0.1:1883", settings.mqtt,
                                     protocol=c.mqtt_protocol)
        return cls(c.gateway_id, target, c.spool_path, receivers=receivers, batch_frames=c.batch_frames,
                   batch_ms=c.batch_ms, dedupe_window_s=c.dedupe_window_s,
                   max_inflight=settings.mqtt.max_inflight,
                   spool_max_frames=c.spool_max_frames, heartbeat_s=c.heartbeat_s,
                   topic_prefix=settings.mqtt.topic_prefix, spool_synchronous=c.spool_synchronous,
                   ack_timeout_s=c.ack_timeout_s, hold_unrouted=c.hold_unrouted, receipts=c.receipts,
                   receipt_timeout_s=c.receipt_timeout_s)

    # ---- life cycle -------------------------------------------------------------------------------------
    def start(self) -> Gateway:
        """Open the spool (recovering frames left by a previous run), connect, start the threads."""
        path, max_frames, sync = self._spool_args
        self._spool = Spool(path, max_frames=max_frames, synchronous=sync)
        self.stats.spool_depth = self._spool.depth
        if self.receipts:
            self._receipts = ReceiptTracker(self._spool.spool_id, self.receipt_timeout_s)
        if self._spool.depth:
            log.info("spool %s holds %d frames from a previous run: draining", path, self._spool.depth)
            self._unsent_since = time.monotonic() - self.batch_s
        self._link.start()
        self._spawn(self._work, "gw-worker")
        for rx in self.receivers:
            self._spawn(lambda rx=rx: self._pump(rx), f"gw-pump-{rx.source}")
        return self

    def stop(self, drain_timeout_s: float = 0.0) -> None:
        """Stop: spool everything received, wait up to ``drain_timeout_s`` for the spool to empty, disconnect.

        Frames still in the spool stay there for the next start.
        """
        if drain_timeout_s > 0:
            self.wait_drained(drain_timeout_s)
        for rx in self.receivers:
            rx.stop()
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(10)
        self._link.stop(last_words=(self.status_topic, offline(self.gateway_id, "stopped")))
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, frame: RawFrame) -> None:
        """Queue a frame for spooling and publishing (thread-safe; used by the receiver pumps and tests)."""
        self._incoming.put(frame)
        self._wake.set()

    def wait_drained(self, timeout_s: float) -> bool:
        """Block until nothing is waiting to be spooled or acknowledged (True) or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._incoming.empty() and self.stats.spool_depth == 0 and not self._inflight:
                return True
            time.sleep(0.02)
        return False

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _pump(self, rx: Receiver) -> None:
        while not self._stopping.is_set():
            frame = rx.get(0.2)
            if frame is not None:
                self.submit(self.tagger(frame) if self.tagger else frame)

    # ---- worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._timeout())
            self._wake.clear()
            self._tick()
        self._spool_incoming()
        if self._held:  # stopping with the spool still unwritable: these frames are lost, and counted
            self.stats.memory_dropped += len(self._held)
            log.error("stopping with the spool unwritable: %d frames held in memory are lost", len(self._held))
            self._held = []

    def _tick(self) -> None:
        self._spool_incoming()
        self._apply_acks()
        if self._link.needs_rebuild():
            self._link.rebuild()
        self.stats.connected = self._link.connected.is_set()
        if self._link.connects != self._seen_connects:  # (re)connected: paho re-sends what it holds
            self._seen_connects = self._link.connects
            self._next_heartbeat = 0.0
            now = time.monotonic()
            for batch in self._inflight.values():
                batch.sent_at = now
            if self._receipts is not None and not self._link.session_present:
                self._retry.extend(self._receipts.all())  # receipts sent while we were away are gone
        self._apply_receipts()
        if self.stats.connected:
            if self._receipts is not None:
                self._retry.extend(self._receipts.due(time.monotonic()))
            self._expire_inflight()
            self._publish_due()
            self._maybe_heartbeat()

    def _timeout(self) -> float:
        waits = [0.5]
        can_send = self._link.connected.is_set() and len(self._inflight) < self.max_inflight
        if can_send and self._unsent_since is not None:
            waits.append(max(self._unsent_since + self.batch_s, self._hold_until) - time.monotonic())
        return max(0.005, min(waits))

    def _spool_incoming(self) -> None:
        assert self._spool is not None
        batch: list[RawFrame] = []
        while len(batch) < 5000:
            try:
                frame = self._incoming.get_nowait()
            except queue.Empty:
                break
            self.stats.received += 1
            if self._dedupe.accept(frame):
                batch.append(frame)
            else:
                self.stats.duplicates += 1
        if not batch and not self._held:
            return
        batch = self._held + batch
        try:
            dropped = self._spool.append(batch)
        except sqlite3.OperationalError as exc:  # SQLITE_FULL, ENOSPC, I/O error: hold the newest in memory
            return self._hold(batch, exc)
        if self._held:
            log.warning("spool writable again: %d held frames spooled", len(self._held))
            self._held = []
            self.stats.disk_full, self.stats.memory_held = False, 0
            self._next_heartbeat = 0.0
        if dropped:
            self.stats.spool_dropped += dropped
            log.error("SPOOL FULL (%d frames): dropped the %d oldest frames, %d dropped so far",
                      self._spool.max_frames, dropped, self.stats.spool_dropped)
        self.stats.spooled += len(batch)
        self.stats.spool_depth = self._spool.depth
        if self._unsent_since is None:
            self._unsent_since = time.monotonic()
        if not self._incoming.empty():
            self._wake.set()

    def _hold(self, frames: list[RawFrame], exc: Exception) -> None:
        """Keep the newest ``memory_max_frames`` frames in memory while the spool cannot be written."""
        if not self.stats.disk_full:
            log.error("SPOOL NOT WRITABLE (%s): holding up to %d frames in memory", exc, self.memory_max_frames)
            self._next_heartbeat = 0.0  # say so now (heartbeat "degraded": ["disk_full"])
        self._held = frames[-self.memory_max_frames:]
        self.stats.memory_dropped += len(frames) - len(self._held)
        self.stats.disk_full, self.stats.memory_held = True, len(self._held)

    def _apply_acks(self) -> None:
        assert self._spool is not None
        while True:
            try:
                mid, ok = self._link.acks.get_nowait()
            except queue.Empty:
                break
            batch = self._inflight.pop(mid, None)
            if batch is None:
                continue  # a heartbeat, or a batch already given up on and re-sent
            if ok and self._receipts is not None:
                self._receipts.published(batch.first, batch.last, batch.count)  # kept until receipted
                self.stats.published += batch.count
            elif ok:
                self._spool.delete_range(batch.first, batch.last)
                self.stats.published += batch.count
            else:
                if time.monotonic() >= self._hold_until:
                    log.warning("broker refused or routed to no subscriber frames %d..%d: kept in the spool, "
                                "re-sent in %.0f s", batch.first, batch.last, self.hold_s)
                self._hold_until = time.monotonic() + self.hold_s
                self._retry.append((batch.first, batch.last))
        self.stats.spool_depth = self._spool.depth
        self.stats.inflight_frames = sum(b.count for b in self._inflight.values())

    def _apply_receipts(self) -> None:
        """Delete the frames the ingest side receipted as stored."""
        tracker, spool = self._receipts, self._spool
        if tracker is None or spool is None:
            return
        while True:
            try:
                payload = self._link.inbox.get_nowait()
            except queue.Empty:
                break
            for first, last in tracker.receipted(payload):
                self.stats.receipted += spool.delete_range(first, last)
        self.stats.spool_depth = spool.depth
        self.stats.awaiting_receipt = tracker.frames()
        self.stats.oldest_unreceipted_s = round(tracker.oldest_s(time.monotonic()), 3)

    def _expire_inflight(self) -> None:
        now = time.monotonic()
        for mid, batch in list(self._inflight.items()):
            if now - batch.sent_at > self.ack_timeout_s:
                log.warning("no ack for frames %d..%d after %.0f s: re-sending", batch.first, batch.last,
                            self.ack_timeout_s)
                del self._inflight[mid]
                self._retry.append((batch.first, batch.last))

    def _publish_due(self) -> None:
        if time.monotonic() < self._hold_until:
            return
        while len(self._inflight) < self.max_inflight:
            rows = self._next_rows()
            if not rows:
                return
            seq = (self._receipts.spool_id, rows[0][0], rows[-1][0]) if self._receipts is not None else None
            payload = encode_frames(self.gateway_id, [f for _, f in rows], seq=seq)
            mid = self._link.publish(self.frames_topic, payload)
            if mid is None:
                self._retry.appendleft((rows[0][0], rows[-1][0]))
                return
            self._inflight[mid] = _Batch(rows[0][0], rows[-1][0], len(rows), time.monotonic())

    def _next_rows(self) -> list[tuple[int, RawFrame]]:
        assert self._spool is not None
        while self._retry:
            first, last = self._retry.popleft()
            rows = self._spool.fetch_range(first, last)
            if rows:
                self.stats.resent += len(rows)
                return rows
        if self._unsent_since is None:
            return []
        rows = self._spool.fetch(self._cursor, self.batch_frames)
        full = len(rows) >= self.batch_frames
        if not rows or not (full or time.monotonic() - self._unsent_since >= self.batch_s):
            if not rows:
                self._unsent_since = None
            return []
        self._cursor = rows[-1][0]
        more = self._spool.fetch(self._cursor, 1)
        self._unsent_since = (time.monotonic() if not full else self._unsent_since) if more else None
        return rows

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        assert self._spool is not None
        self._next_heartbeat = now + self.heartbeat_s
        doc = heartbeat(self.gateway_id, self.stats, self.receivers, spool_max=self._spool.max_frames,
                        oldest=self._spool.oldest_received_at(), uptime_s=now - self._started_at,
                        protocol=self._link.protocol, heartbeat_s=self.heartbeat_s)
        self._link.publish(self.status_topic, doc, retain=True)
