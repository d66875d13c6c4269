"""The thin I/O loop around a driver: open the port, run the init sequence, read frames, reconnect, watchdog.

One thread per receiver. Frames come out as :class:`core.types.RawFrame` (stamped in UTC on receipt) through
:meth:`Receiver.get` / iteration, or an ``on_frame`` callback. The loop owns reconnects with exponential
backoff and catches only I/O errors and failed init sequences; when no frame arrives for
``silence_reset_s`` it resets the device (driver reset commands, then close, reopen and init again).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.types import RawFrame
from hardware.base import Driver, Event, Fault, Framer, Heard, Reply, Step
from hardware.errors import InitError
from hardware.transport import IO_ERRORS, Transport, check_port_free, open_transport

log = logging.getLogger(__name__)

# Errors after which the receiver loop reconnects (device gone, stream ended, init refused).
_RETRYABLE: tuple[type[BaseException], ...] = (*IO_ERRORS, EOFError, InitError)


@dataclass
class ReceiverStats:
    """Health counters of one receiver (read by the gateway heartbeat)."""

    frames: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    reconnects: int = 0
    watchdog_resets: int = 0
    dropped: int = 0
    connected: bool = False
    device: str = ""
    last_frame_at: datetime | None = None
    recent: deque[tuple[float, float | None]] = field(default_factory=lambda: deque(maxlen=2000))

    def frames_per_min(self, now: float | None = None) -> int:
        """Frames heard in the last 60 s."""
        now = time.monotonic() if now is None else now
        return sum(1 for t, _ in self.recent if now - t <= 60)

    def rssi_summary(self) -> dict[str, float] | None:
        """min/median/max RSSI (dBm) of the recently heard frames."""
        values = sorted(r for _, r in self.recent if r is not None)
        if not values:
            return None
        return {"min": values[0], "median": values[len(values) // 2], "max": values[-1]}


class _Watchdog(Exception):
    """Raised inside the loop when the receiver has been silent too long."""


class Receiver:
    """A running receiver: a driver on a port, in a background thread."""

    def __init__(self, driver: Driver, port: str, *, link_mode: str = "T1", source: str = "gw-1",
                 silence_reset_s: float = 300.0, backoff_max_s: float = 30.0, baudrate: int | None = None,
                 on_frame: Callable[[RawFrame], None] | None = None, queue_size: int = 100_000,
                 opener: Callable[[str, int], Transport] = open_transport) -> None:
        driver.init_steps(link_mode)  # validates the link mode before any thread starts
        self.driver, self.port, self.link_mode, self.source = driver, port, link_mode, source
        self.silence_reset_s, self.backoff_max_s = silence_reset_s, backoff_max_s
        self.baudrate = baudrate or driver.baudrate
        self.stats = ReceiverStats()
        self.captured: dict[str, bytes] = {}
        self._frame_mode = driver.frame_link_mode(link_mode)
        self._on_frame, self._opener = on_frame, opener
        self._queue: queue.Queue[RawFrame] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rx-{driver.name}", daemon=True)

    def start(self) -> Receiver:
        """Start the reader thread; PortInUseError at once if another process holds the serial port."""
        check_port_free(self.port)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading and release the port."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the device is initialised (True) or ``timeout_s`` passes (False)."""
        return self._ready.wait(timeout_s)

    def get(self, timeout_s: float | None = None) -> RawFrame | None:
        """The next frame, or ``None`` after ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def __iter__(self) -> Iterator[RawFrame]:
        while not self._stop.is_set():
            frame = self.get(0.2)
            if frame is not None:
                yield frame

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self._session()
                delay = 0.2
            except _Watchdog:
                self.stats.watchdog_resets += 1
                log.warning("%s on %s silent for %.0f s: device reset", self.driver.name, self.port,
                            self.silence_reset_s)
                continue
            except _RETRYABLE as exc:
                log.warning("%s on %s: %s; retrying in %.1f s", self.driver.name, self.port, exc, delay)
            finally:
                self._ready.clear()
                self.stats.connected = False
            self.stats.reconnects += 1
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max_s)

    def _session(self) -> None:
        transport = self._opener(self.port, self.baudrate)
        framer = self.driver.framer()
        try:
            run_steps(transport, framer, self.driver.init_steps(self.link_mode), self._handle, self.captured)
            self.stats.connected = True
            self._ready.set()
            self._read_loop(transport, framer)
        except _Watchdog:
            self._best_effort(transport, framer, self.driver.reset_steps())
            raise
        finally:
            transport.close()

    def _read_loop(self, transport: Transport, framer: Framer) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            data = transport.read(0.2)
            events = framer.feed(data) if data else framer.idle()
            if any(isinstance(e, Heard) for e in events):
                last = time.monotonic()
            for event in events:
                self._handle(event)
            if time.monotonic() - last > self.silence_reset_s:
                raise _Watchdog

    def _best_effort(self, transport: Transport, framer: Framer, steps: Sequence[Step]) -> None:
        try:
            run_steps(transport, framer, steps, self._handle, {})
        except _RETRYABLE as exc:
            log.info("%s reset command failed: %s", self.driver.name, exc)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Heard):
            self._deliver(event)
        elif isinstance(event, Fault):
            if event.kind == "crc":
                self.stats.crc_errors += 1
            else:
                self.stats.framing_errors += 1

    def _deliver(self, heard: Heard) -> None:
        now = datetime.now(UTC)
        frame = RawFrame(payload=heard.frame, received_at=now, source=self.source, rssi_dbm=heard.rssi_dbm,
                         link_mode=heard.link_mode or self._frame_mode)
        self.stats.frames += 1
        self.stats.last_frame_at = now
        self.stats.recent.append((time.monotonic(), heard.rssi_dbm))
        if self._on_frame is not None:
            self._on_frame(frame)
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.stats.dropped += 1


def run_steps(transport: Transport, framer: Framer, steps: Sequence[Step],
              on_event: Callable[[Event], None], captured: dict[str, bytes]) -> None:
    """Send each step's command and wait for its reply; other events go to ``on_event``."""
    for step in steps:
        transport.write(step.send)
        sent = getattr(framer, "sent", None)
        if sent is not None:
            sent(step.send)
        if step.expect is None:
            continue
        reply = _await_reply(transport, framer, step, on_event)
        if step.capture:
            captured[step.capture] = reply.payload
        if step.follow is not None:
            run_steps(transport, framer, step.follow(reply), on_event, captured)


def _await_reply(transport: Transport, framer: Framer, step: Step,
                 on_event: Callable[[Event], None]) -> Reply:
    deadline = time.monotonic() + step.timeout_s
    assert step.expect is not None
    found: Reply | None = None
    while found is None and time.monotonic() < deadline:
        data = transport.read(min(0.1, max(0.0, deadline - time.monotonic())))
        for event in framer.feed(data) if data else framer.idle():
            if found is None and isinstance(event, Reply) and step.expect(event):
                found = event
            else:
                on_event(event)
    if found is not None:
        return found
    raise InitError(f"no answer to {step.what or step.send.hex()} within {step.timeout_s:.1f} s")
