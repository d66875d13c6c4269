"""The MQTT ingest worker: shared subscription, QoS 1 with manual acks sent only after the batch committed.

Threads: paho's network loop (``on_message`` only queues), the batch loop (parse, dedupe, decode), the
writer (commit, then ack; one batch may wait for it, so decoding overlaps the commit) and a maintenance
loop (partitions, rollups, key-ring refresh). Each worker connects with a persistent
session (``clean_start=False``, session expiry), so messages published while it is down wait in the broker,
and a message it received but did not acknowledge is redelivered — to it after a reconnect, or to another
worker of the group. Redelivery is harmless: the database merge drops readings already stored.

A database outage never acknowledges anything: the batch is retried with backoff until it commits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest_batch import Batch, BatchBuilder, Decoding, Message
from pipeline.ingest_commit import commit_batch
from pipeline.ingest_guard import Fatal, Watchdog, exit_process, guarded, once
from pipeline.ingest_poison import QUARANTINE_AFTER, PoisonJournal, default_journal_path
from pipeline.ingest_pool import DecodePool, collect_garbage_less_often
from pipeline.ingest_receipts import receipts
from pipeline.ingest_session import broker_address, connect_properties, make_ingest_client, shared_topic
from pipeline.metrics import IngestMetrics, ingest_metrics
from pipeline.readings_publish import ReadingsPublisher
from storage.errors import RegistryError, StorageError, TransientStorageError
from storage.maintenance import maintain
from storage.readings_points import current_service_points
from storage.registry import KeyRing, check_master_key, load_keyring
from storage.rows import DeadLetter
from storage.telegrams import write_telegrams

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestStats:
    """Counters of one worker since it started (a snapshot)."""

    frames_in: int = 0
    decoded: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    undecoded: int = 0
    committed_readings: int = 0
    committed_batches: int = 0
    messages_acked: int = 0
    db_errors: int = 0


class IngestWorker:
    """One ingest worker; ``start()`` runs it in background threads, ``run_forever()`` in the caller's."""

    def __init__(self, *, db_url: str, mqtt_url: str, settings: IngestSettings, master_key: bytes | None,
                 client_id: str | None = None, mqtt_settings: MqttSettings | None = None,
                 metrics: IngestMetrics | None = None, crash_hook: Callable[[str], None] | None = None,
                 maintenance_every_s: float = 60.0, keyring_every_s: float = 30.0,
                 write_strategy: str = "probe", decode_processes: int = 0, leave: bool = False,
                 allow_missing_master_key: bool = False,
                 status_sink: Callable[[str, bytes, datetime, bool], None] | None = None,
                 fatal_hook: Fatal | None = None, journal_path: Path | None = None) -> None:
        self.db_url, self.mqtt_url, self.settings, self.master_key = db_url, mqtt_url, settings, master_key
        self.allow_missing_master_key = allow_missing_master_key  # start without ODCZYT_MASTER_KEY, warning loudly
        self.client_id = client_id or settings.client_id
        self.mqtt_settings = mqtt_settings or MqttSettings()
        self.metrics = metrics or ingest_metrics()
        self.crash_hook = crash_hook
        self.maintenance_every_s, self.keyring_every_s = maintenance_every_s, keyring_every_s
        self.write_strategy = write_strategy
        self.decode_processes = decode_processes  # 0: decode in the batch thread
        self.leave = leave  # unsubscribe on connect: only drain what the broker kept for this session (leave())
        # gateways' status messages, on the worker's own connection (its account is its client id): to the watcher
        self.status_sink = status_sink
        self._fatal = once(fatal_hook or exit_process)  # a dead thread ends the process (pipeline/ingest_guard.py)
        self._journal_path = journal_path or default_journal_path(self.client_id)
        self._journal: PoisonJournal | None = None  # opened by start(): what is in hand, for poison loops
        self._pool: DecodePool | None = None
        self._queue: queue.Queue[Message] = queue.Queue()
        self._to_writer: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._generation = 0
        self._counts: dict[str, int] = {f.name: 0 for f in fields(IngestStats)}
        self._count_lock = threading.Lock()
        self._lags: deque[float] = deque(maxlen=200_000)
        self._received_qos1 = 0
        self._last_message_at = time.monotonic()
        self._threads: list[threading.Thread] = []
        self._conn: psycopg.Connection | None = None
        self._builder: BatchBuilder | None = None
        self._client = self._make_client()
        self._readings = self._readings_publisher() if settings.publish_readings else None

    # --- public -------------------------------------------------------------------------------------

    @property
    def topic(self) -> str:
        return shared_topic(self.settings, self.mqtt_settings)

    @property
    def stats(self) -> IngestStats:
        with self._count_lock:
            return IngestStats(**self._counts)

    def lag_samples(self) -> list[float]:
        """Recent end-to-end lags in seconds (frame received_at → its reading committed)."""
        return list(self._lags)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until the broker acknowledged the worker's subscription."""
        return self._connected.wait(timeout)

    def start(self) -> IngestWorker:
        """Connect and run in background threads."""
        collect_garbage_less_often()
        self._journal = PoisonJournal(self._journal_path)
        keyring = self._load_keyring_retrying()
        if self.decode_processes > 0:
            self._pool = DecodePool(self.decode_processes, keyring.keys)
        self._builder = BatchBuilder(keyring=keyring, dedupe_window_s=self.settings.dedupe_window_s,
                                     pool=self._pool)
        host, port = broker_address(self.mqtt_url)
        self._client.connect_async(host, port, keepalive=self.mqtt_settings.keepalive_s, clean_start=False,
                                   properties=connect_properties(self.mqtt_settings.max_inflight))
        self._client.loop_start()
        for target, name in ((self._batch_loop, "batch"), (self._writer_loop, "writer"),
                             (self._maintenance_loop, "maintenance"), (self._watchdog().run, "watchdog")):
            thread = threading.Thread(target=guarded(target, name, self._stop, self._fatal),
                                      name=f"{self.client_id}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _watchdog(self) -> Watchdog:
        def threads() -> dict[str, threading.Thread | None]:
            found = {t.name.rpartition("-")[2]: t for t in self._threads if not t.name.endswith("-watchdog")}
            return {**found, "mqtt": getattr(self._client, "_thread", None)}  # paho's network thread

        return Watchdog(threads, self._stop, self._fatal, self.metrics.thread_alive)

    def stop(self, timeout: float = 10.0, *, end_session: bool = False) -> None:
        """Finish (commit and ack) the batch in hand, then disconnect; unacked messages stay on the broker.

        ``end_session`` disconnects with a session expiry of 0: the broker forgets this client id.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]  # paho is untyped here
            props.SessionExpiryInterval = 0
            self._client.disconnect(properties=props)
        else:
            self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()  # paho's wake-up socket pair: closed now, not (with a warning) by the GC
        if self._conn is not None:
            self._conn.close()
        if self._pool is not None:
            self._pool.close()
        if self._journal is not None:
            self._journal.close()

    def leave_group(self, idle_s: float = 5.0, timeout_s: float = 3600.0) -> IngestStats:
        """Retire this worker's client id for good (``leave=True``): unsubscribe, so the broker routes no new
        share here; commit and acknowledge what it kept for the session while the worker was down; once nothing
        has arrived for ``idle_s`` and everything received is acknowledged, end the session. Without this a
        retired id keeps receiving its share until its session expires (7 days).
        """
        if not self.leave:
            raise ValueError("leave_group() needs IngestWorker(leave=True)")
        self.start()
        deadline = time.monotonic() + timeout_s
        try:
            if not self.wait_connected(60):
                raise TimeoutError("broker did not confirm the unsubscribe")
            while time.monotonic() < deadline:
                idle = time.monotonic() - self._last_message_at >= idle_s
                if idle and self._queue.empty() and self.stats.messages_acked >= self._received_qos1:
                    break
                time.sleep(0.1)
            else:
                raise TimeoutError(f"still receiving after {timeout_s:.0f} s; session kept")
        except BaseException:
            self.stop()
            raise
        self.stop(end_session=True)
        return self.stats

    def run_forever(self) -> None:
        """Start and block until interrupted (Ctrl-C / SIGTERM raising KeyboardInterrupt)."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.info("stopping")
        finally:
            self.stop()

    # --- MQTT callbacks (network thread: do the least possible) ---------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = make_ingest_client(self.client_id, self.mqtt_url, self.mqtt_settings)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker refused connection: %s", reason)
            return
        self._generation += 1
        if self.leave:
            client.unsubscribe(self.topic)
        else:
            client.subscribe(self.topic, qos=1)
            if self.status_sink is not None:  # QoS 0: a persistent session must not queue stale heartbeats
                client.subscribe(f"{self.mqtt_settings.topic_prefix}/status/+", qos=0)

    def _on_subscribe(self, _c: object, _u: object, _mid: int, reasons: list, _p: object) -> None:  # type: ignore[type-arg]
        if all(not getattr(r, "is_failure", False) for r in reasons):
            self._connected.set()  # only now does the broker route the group's messages to this session
        else:
            log.error("subscription to %s refused: %s", self.topic, reasons)

    def _on_unsubscribe(self, _c: object, _u: object, _mid: int, _reasons: object, _p: object) -> None:
        self._connected.set()  # leaving: the broker routes no new share here; what it kept still arrives

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self._generation += 1  # acks of messages from the lost connection must not be sent on the next one
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("broker connection lost (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self.status_sink is not None and msg.topic.startswith(f"{self.mqtt_settings.topic_prefix}/status/"):
            self.status_sink(msg.topic, bytes(msg.payload), datetime.now(UTC), bool(msg.retain))
            if msg.qos:
                client.ack(msg.mid, msg.qos)  # the registry is best effort: a status message is never redelivered
            return
        self._last_message_at = time.monotonic()
        if msg.qos:
            self._received_qos1 += 1
        self._queue.put(Message(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._generation, datetime.now(UTC)))

    # --- batch loop -----------------------------------------------------------------------------------

    def _batch_loop(self) -> None:
        """Parse, dedupe and decode batches; hand each to the writer thread (decode N+1 while N commits).

        With decode processes, batch N is finished (its outcomes applied) only after batch N+1 was filled and
        sent to them, so they decode N+1 while this thread applies N; an idle stream finishes N at once.
        """
        builder = self._builder
        assert builder is not None
        pending: Decoding | None = None
        try:
            while not self._stop.is_set():
                if not self._fill(builder):
                    if pending is not None:
                        self._hand(builder.finish(pending))
                        pending = None
                    continue
                current = builder.detach()
                if pending is not None:
                    self._hand(builder.finish(pending))
                    pending = None
                if self._pool is None:
                    self._hand(builder.finish(current))
                else:
                    pending = current
            if pending is not None:
                self._hand(builder.finish(pending), stopping=True)
        finally:
            self._to_writer.put(None)  # the writer drains what it holds, then ends

    def _hand(self, batch: Batch, *, stopping: bool = False) -> None:
        """Give the writer thread ``batch`` (waiting while it commits the previous one)."""
        if self.crash_hook:
            self.crash_hook("received")
        while stopping or not self._stop.is_set():
            try:
                self._to_writer.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def _writer_loop(self) -> None:
        """Commit batches in order and acknowledge each one's messages only after it committed."""
        while (batch := self._to_writer.get()) is not None:
            if self._commit(batch):
                if self.crash_hook:
                    self.crash_hook("committed")
                self._ack(batch)
                if self._journal is not None:
                    self._journal.done(m.payload for m in batch.messages)
                for topic, receipt in receipts((m.payload for m in batch.messages), self.mqtt_settings.topic_prefix):
                    self._client.publish(topic, receipt, qos=1)  # stored: the gateways may forget these frames
                if self._readings is not None:  # stored and acknowledged: now tell MQTT subscribers
                    self._readings.publish(batch.reading_rows)

    def _readings_publisher(self) -> ReadingsPublisher:
        """Readings on MQTT through the worker's own connection; service points read on the writer's."""

        def publish(topic: str, payload: bytes, qos: int, retain: bool) -> object:
            return self._client.publish(topic, payload, qos=qos, retain=retain)

        return ReadingsPublisher(publish, self.settings, self.mqtt_settings.topic_prefix,
                                 lambda keys: current_service_points(self._connection(), keys))

    def _fill(self, builder: BatchBuilder) -> bool:
        """Collect messages until the batch is full or ``batch_ms`` passed since its first message."""
        try:
            self._admit(builder, self._queue.get(timeout=0.2))
        except queue.Empty:
            return False
        deadline = time.monotonic() + self.settings.batch_ms / 1000
        while builder.batch.size < self.settings.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self._admit(builder, self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return True

    def _admit(self, builder: BatchBuilder, msg: Message) -> None:
        """Add ``msg`` to the batch, unless it stopped the worker twice (pipeline/ingest_poison.py)."""
        journal = self._journal
        assert journal is not None
        digest, attempts = journal.enter(msg.payload)
        if attempts >= QUARANTINE_AFTER:
            self.metrics.quarantined.inc()
            return builder.quarantine(msg, f"stopped the ingest worker {attempts} times; quarantined")
        if attempts:  # a suspect: named in the journal while it is parsed
            journal.current(digest)
        builder.add(msg)
        if attempts:
            journal.current(None)
        return None

    def _commit(self, batch: Batch) -> bool:
        """Write the batch, retrying through outages; False only when stopping before it committed."""
        delay = 0.2
        while True:
            started = time.monotonic()
            try:  # rows the database refuses are bisected out as dead letters (pipeline/ingest_commit.py)
                inserted = commit_batch(lambda r, f, d: self._write(batch, r, f, d), batch)
            except (TransientStorageError, psycopg.OperationalError) as exc:  # outage, read-only: retry all
                self._db_failed(exc)
            else:
                self._record(batch, inserted, time.monotonic() - started)
                return True
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, 10.0)

    def _write(self, batch: Batch, readings: Sequence[tuple[object, ...]], frames: Sequence[tuple[object, ...]],
               dead: Sequence[DeadLetter]) -> int:
        """Write rows of ``batch``; a reading whose telegram is stored already (a skewed gateway's copy, a replay)
        is dropped and counted as a duplicate (storage/telegrams.py)."""
        ids = [batch.telegram_ids.get((row[0], row[1])) for row in readings]
        result, copies = write_telegrams(self._connection(), reading_rows=readings, telegram_ids=ids,
                                         frame_rows=frames, dead_letters=dead,
                                         dedupe_window_s=self.settings.dedupe_window_s, strategy=self.write_strategy)
        if copies:  # not readings: neither published nor counted as such
            batch.counts["duplicates"] += len(copies)
            dropped = {id(row) for row in copies}
            batch.reading_rows = [row for row in batch.reading_rows if id(row) not in dropped]
        return result.readings_inserted

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.db_url, autocommit=True, connect_timeout=5)
            except psycopg.Error as exc:
                raise TransientStorageError(f"connect: {exc}") from exc
        return self._conn

    def _db_failed(self, exc: Exception) -> None:
        log.warning("batch not committed, will retry: %s", exc)
        self._bump(db_errors=1)
        self.metrics.db_errors.inc()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _ack(self, batch: Batch) -> None:
        acked = 0
        for msg in batch.messages:
            if msg.generation == self._generation and msg.qos > 0:
                self._client.ack(msg.mid, msg.qos)
                acked += 1
        self._bump(messages_acked=acked)

    def _record(self, batch: Batch, inserted: int, seconds: float) -> None:
        c = batch.counts
        undecoded = sum(v for k, v in c.items() if k.startswith("undecoded:"))
        dead = sum(v for k, v in c.items() if k.startswith("dead:"))
        self._bump(frames_in=c["frames_in"], decoded=c["decoded"], duplicates=c["duplicates"],
                   dead_letters=dead, undecoded=undecoded, committed_readings=inserted, committed_batches=1)
        m = self.metrics
        m.frames_in.inc(c["frames_in"])
        m.decoded.inc(c["decoded"])
        m.duplicates.inc(c["duplicates"])
        m.readings_committed.inc(inserted)
        for key, value in c.items():
            kind, _, label = key.partition(":")
            if kind == "dead":
                m.dead_letters.labels(reason=label).inc(value)
            elif kind == "undecoded":
                m.undecoded.labels(status=label).inc(value)
        m.batch_size.observe(batch.size)
        for gateway, skew in batch.clock_skew.items():
            m.clock_skew.labels(gateway=gateway).set(skew)
        m.commit_seconds.observe(seconds)
        now = datetime.now(UTC)
        for row in batch.reading_rows:
            lag = (now - row[2]).total_seconds()  # type: ignore[operator]  # column 2 is received_at
            self._lags.append(lag)
            m.lag_seconds.observe(lag)

    def _bump(self, **delta: int) -> None:
        with self._count_lock:
            for key, value in delta.items():
                self._counts[key] += value

    # --- maintenance ----------------------------------------------------------------------------------

    def _load_keyring_retrying(self) -> KeyRing:
        delay = 0.5
        while True:
            try:
                with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
                    self._check_master_key(conn)
                    return load_keyring(conn, master_key=self.master_key)
            except psycopg.OperationalError as exc:
                log.warning("cannot load the meter registry yet: %s", exc)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)

    def _check_master_key(self, conn: psycopg.Connection) -> None:
        """Refuse to start with a master key that cannot open the registry's keys, or without one while keys
        are sealed (every frame would be stored as "key missing") unless ``allow_missing_master_key``."""
        try:
            check_master_key(conn, master_key=self.master_key)
        except RegistryError as exc:
            if self.master_key is not None:
                raise
            if not self.allow_missing_master_key:
                raise RegistryError(f"{exc}, or start with --allow-missing-master-key to keep frames undecoded "
                                    "until 'odczyt redecode'") from None
            log.error("WARNING: %s — started anyway (--allow-missing-master-key): encrypted frames are stored "
                      "undecoded until 'odczyt redecode' runs with the key", exc)

    def _maintenance_loop(self) -> None:
        next_keys = time.monotonic() + self.keyring_every_s
        next_maint = time.monotonic() + min(5.0, self.maintenance_every_s)
        while not self._stop.wait(0.5):
            now = time.monotonic()
            try:
                if now >= next_keys and self._builder is not None:
                    with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
                        self._builder.keyring = load_keyring(conn, master_key=self.master_key)
                    next_keys = now + self.keyring_every_s
                if now >= next_maint:
                    with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
                        maintain(conn)
                    next_maint = now + self.maintenance_every_s
            except (psycopg.Error, StorageError) as exc:
                log.warning("maintenance failed, will retry: %s", exc)
                next_keys = next_maint = now + 5.0

