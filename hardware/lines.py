"""Line splitting shared by the text protocols (CUL, rtl-wmbus, rtl_433, NMEA)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.types import LinkMode
from hardware.base import Event, Step, link_mode_enum

MAX_LINE = 4096  # longer runs without a newline are garbage


class LineBuffer:
    """Accumulates bytes and yields complete lines (CR/LF stripped, decoded as ASCII, bad bytes replaced)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self.overflows = 0

    def feed(self, data: bytes) -> list[str]:
        """Complete lines contained in everything fed so far."""
        self._data += data
        *complete, rest = self._data.split(b"\n")
        self._data = bytearray(rest)
        if len(self._data) > MAX_LINE:
            self._data.clear()
            self.overflows += 1
        return [line.strip(b"\r\x00").decode("ascii", "replace") for line in complete if line.strip(b"\r\x00")]

    def pending(self) -> bool:
        """True if a partial line is buffered."""
        return bool(self._data)

    def clear(self) -> None:
        """Forget a partial line."""
        self._data.clear()


class LineFramer:
    """Pure framer for receivers that print one telegram per text line (rtl-wmbus, rtl_433)."""

    def __init__(self, parse: Callable[[str], Event]) -> None:
        self._parse = parse
        self._lines = LineBuffer()

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return one event per complete line."""
        return [self._parse(line) for line in self._lines.feed(data)]

    def idle(self) -> list[Event]:
        """Such programs write whole lines; a partial one just waits."""
        return []


class PipeDriver:
    """A read-only line source (a program's stdout, a FIFO, stdin): nothing to initialise, reset or probe.

    Subclasses set ``name`` and ``parse_line`` (a staticmethod turning one line into an event); the radio
    mode is chosen on the program's command line, and the watchdog reopens (restarts an ``exec:`` command).
    """

    name = "pipe"
    baudrate = 0
    parse_line: Callable[[str], Event]

    def framer(self) -> LineFramer:
        """A fresh line framer."""
        return LineFramer(type(self).parse_line)

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """None."""
        return []

    def reset_steps(self) -> Sequence[Step]:
        """None."""
        return []

    def probe_steps(self) -> Sequence[Step]:
        """A pipe cannot be probed."""
        return []

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """Fallback when a line carries no mode."""
        return link_mode_enum(link_mode)
