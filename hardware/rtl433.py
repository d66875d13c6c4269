"""rtl_433 ``-F json`` output (decoder "Wireless-MBus"), read from stdin, a FIFO or a command. Fact sheet §5.6.

One JSON object per line; telegrams have ``"model": "Wireless-MBus"`` and ``"data"`` = hex of the
CRC-stripped frame starting with L. The L byte is **not trusted**: format-B frames may keep the B-style L and
the final CRC, so a valid trailing format-B CRC is stripped, and L is then rewritten as ``len − 1``.
``mode`` "T"/"C"/"S" gives the link mode; ``rssi`` (with ``-M level``) is taken as dB.
"""

from __future__ import annotations

import json

from core.types import LinkMode
from hardware.base import Event, Fault, Heard, Reply
from hardware.dll import strip_format_b
from hardware.lines import LineFramer, PipeDriver

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


def Rtl433Framer() -> LineFramer:
    """A fresh pure framer for rtl433 output lines."""
    return LineFramer(parse_line)


class Rtl433Driver(PipeDriver):
    """rtl433 as a read-only source."""

    name = "rtl433"
    parse_line = staticmethod(parse_line)
