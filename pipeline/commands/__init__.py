"""Sub-commands of ``odczyt``: one module per area, each with ``register(app: typer.Typer)``."""

from __future__ import annotations

import signal


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def interrupt_on_termination() -> None:
    """Make SIGTERM and SIGHUP end the command as Ctrl-C does (KeyboardInterrupt in the main thread), so its
    ``finally`` blocks and context managers run: a worker finishes its batch, the demo stops the PostgreSQL and
    Mosquitto it started. Python's default for both signals ends the process without any of that."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
