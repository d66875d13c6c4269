"""A pseudo-terminal device: the driver opens :attr:`PtySimulator.port` with pyserial, the simulator
answers on the master side from a background thread.

Subclasses implement :meth:`PtySimulator.on_bytes` (commands from the host) and use :meth:`send` to write
to the host. ``mute()`` makes the device stop delivering telegrams until it is re-initialised (to exercise
the watchdog); ``unplug()`` closes the pty like a pulled USB stick.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from typing import Self


class PtySimulator:
    """Base class of all receiver simulators."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port = os.ttyname(self._slave)
        self.received = bytearray()  # everything the host sent, for assertions
        self.muted = False
        self.inits = 0  # completed init sequences (counted by subclasses)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-{type(self).__name__}", daemon=True)

    def start(self) -> Self:
        """Start answering the host."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the simulator and close both ends of the pty."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    unplug = close

    def __enter__(self) -> PtySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mute(self) -> None:
        """Stop delivering telegrams until the host initialises the device again."""
        self.muted = True

    def send(self, data: bytes) -> None:
        """Write ``data`` to the host, all of it."""
        with self._lock:
            view = memoryview(data)
            while view:
                _, writable, _ = select.select([], [self._master], [], 1.0)
                if writable:
                    view = view[os.write(self._master, view) :]

    def on_bytes(self, data: bytes) -> None:
        """Handle bytes the host wrote (override)."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 4096)
            except OSError:
                return
            if data:
                self.received += data
                self.on_bytes(data)
