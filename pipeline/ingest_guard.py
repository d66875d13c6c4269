"""A worker that cannot die silently: every thread guarded, a watchdog, a liveness gauge per thread.

An exception escaping any thread of the ingest worker (its batch, writer or maintenance loop, paho's network
thread) must never leave a live process that consumes nothing. :func:`guarded` logs it and calls the fatal
hook; the :class:`Watchdog` checks every second that each thread is alive (``odczyt_ingest_thread_alive``) and
calls the fatal hook for one that ended while the worker runs. The default hook, :func:`exit_process`, ends
the process with status 70 so that systemd (``Restart=always``) or the container runtime restarts it; what
was not acknowledged is redelivered by the broker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping

from prometheus_client import Gauge

log = logging.getLogger(__name__)
EXIT_STATUS = 70  # EX_SOFTWARE
Fatal = Callable[[str], None]


def exit_process(reason: str) -> None:
    """Log ``reason`` and end the process at once with :data:`EXIT_STATUS` (no cleanup: nothing is acked)."""
    log.critical("%s: exiting with status %d so that the service manager restarts the worker", reason, EXIT_STATUS)
    logging.shutdown()
    os._exit(EXIT_STATUS)


def once(fatal: Fatal) -> Fatal:
    """``fatal`` called at most once (several threads may notice the same failure)."""
    lock = threading.Lock()
    called: list[str] = []

    def call(reason: str) -> None:
        with lock:
            if called:
                return
            called.append(reason)
        fatal(reason)

    return call


def guarded(target: Callable[[], None], name: str, stop: threading.Event, fatal: Fatal) -> Callable[[], None]:
    """``target`` that reports its own death: an exception, or an end before ``stop`` is set."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            log.critical("ingest thread %s died", name, exc_info=True)
            fatal(f"ingest thread {name} died: {type(exc).__name__}: {exc}")
            return
        if not stop.wait(0.5):  # a thread that ended because another died: that one's reason comes first
            fatal(f"ingest thread {name} ended while the worker runs")

    return run


class Watchdog:
    """Checks the worker's threads every ``every_s`` seconds; sets the liveness gauge, calls ``fatal`` once."""

    def __init__(self, threads: Callable[[], Mapping[str, threading.Thread | None]], stop: threading.Event,
                 fatal: Fatal, gauge: Gauge, every_s: float = 1.0) -> None:
        self.threads, self.stop, self.fatal, self.gauge, self.every_s = threads, stop, fatal, gauge, every_s

    def run(self) -> None:
        """Loop until ``stop``; return after calling ``fatal`` for a dead thread."""
        while not self.stop.wait(self.every_s):
            for name, thread in self.threads().items():
                alive = thread is not None and thread.is_alive()
                self.gauge.labels(thread=name).set(1.0 if alive else 0.0)
                if not alive and not self.stop.is_set():
                    self.fatal(f"ingest thread {name} is not running")
                    return
