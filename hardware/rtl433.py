"""rtl_433 ``-F json`` output (decoder "Wireless-MBus"), read from stdin, a FIFO or a command. Fact sheet §5.6.

One JSON object per line; telegrams have ``"model": "Wireless-MBus"`` and ``"data"`` = hex of the
CRC-stripped frame starting with L. The L byte is **not trusted**: format-B frames may keep the B-style L and
the final CRC, so a valid trailing format-B CRC is stripped, and L is then rewritten as ``len − 1``.
``mode`` "T"/"C"/"S" gives the link mode; ``rssi`` (with ``-M level``) is taken as dB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.types import LinkMode
from hardware.base import Event, Fault, Heard, Reply, Step, link_mode_enum
from hardware.dll import strip_format_b
from hardware.lines import LineBuffer

MODES = {"T": LinkMode.T1, "C": LinkMode.C1, "S": LinkMode.S1}


def _frame(hexdata: str, mode: str) -> bytes:
    raw = bytes.fromhex(hexdata)
    stripped = strip_format_b(raw) if mode == "C" and len(raw) > 12 else None
    frame = stripped if stripped is not None else raw
    return bytes([len(frame) - 1]) + frame[1:]


def parse_line(line: str) -> Event:
    """One rtl_433 JSON line → :class:`Heard`, :class:`Fault` or (other devices/log lines) :class:`Reply`."""
    try:
        doc = json.loads(line)
    except ValueError:
        return Reply(line, line.encode())
    if not isinstance(doc, dict) or doc.get("model") != "Wireless-MBus":
        return Reply("other", line.encode())
    try:
        frame = _frame(str(doc["data"]), str(doc.get("mode")))
    except (KeyError, ValueError):
        return Fault("framing", "rtl_433 telegram without valid hex data")
    if len(frame) < 11:
        return Fault("framing", "rtl_433 telegram too short")
    rssi = doc.get("rssi")
    return Heard(frame, float(rssi) if isinstance(rssi, int | float) else None, MODES.get(str(doc.get("mode"))))


class Rtl433Framer:
    """Pure rtl_433 JSON-lines framer."""

    def __init__(self) -> None:
        self._lines = LineBuffer()

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return one event per complete line."""
        return [parse_line(line) for line in self._lines.feed(data)]

    def idle(self) -> list[Event]:
        """Partial lines just wait."""
        return []


class Rtl433Driver:
    """rtl_433 as a read-only source."""

    name = "rtl433"
    baudrate = 0

    def framer(self) -> Rtl433Framer:
        """A fresh JSON-lines framer."""
        return Rtl433Framer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """None: the frequency/mode is chosen on rtl_433's command line."""
        return []

    def reset_steps(self) -> Sequence[Step]:
        """None."""
        return []

    def probe_steps(self) -> Sequence[Step]:
        """A pipe cannot be probed."""
        return []

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """Fallback when a line has no ``mode``."""
        return link_mode_enum(link_mode)
