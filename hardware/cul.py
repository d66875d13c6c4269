"""CUL / nanoCUL with culfw (CC1101), text protocol: framer, init. Fact sheet §5.3.

Received telegram line (CRLF-terminated)::

    b  <hex of the whole frame, L first, with all block CRCs>  [LQI hex2] [RSSI hex2]      frame format A
    bY <hex …, format B>                                       [LQI hex2] [RSSI hex2]      C mode, format B

LQI/RSSI are appended after ``X21``. The framer checks the CRCs itself and hands on the frame **without**
CRCs (format-A L meaning), so the same telegram is byte-identical whichever receiver heard it; a frame whose
CRCs fail is counted as a CRC error and handed on unchanged (``has_crcs``) so it can be kept as dead letter.
RSSI dBm = signed byte / 2 − 74.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.types import LinkMode
from hardware.base import Event, Fault, Heard, Reply, Step, link_mode_enum, link_mode_setting
from hardware.dll import format_a_length, strip_format_a, strip_format_b
from hardware.lines import LineBuffer

BAUDRATE = 38400
_FRAME_LINE = re.compile(r"^b(Y?)([0-9A-Fa-f]+)$")
# host command → status line culfw answers with
LINK_MODES: dict[str, tuple[str, str]] = {"T1": ("brt", "TMODE"), "S1": ("brs", "SMODE"), "C1": ("brc", "CMODE")}


def rssi_dbm(raw: int) -> float:
    """CC1101 RSSI byte → dBm."""
    return (raw - 256 if raw >= 128 else raw) / 2 - 74


def rssi_raw(dbm: float) -> int:
    """Inverse of :func:`rssi_dbm` (for simulators)."""
    return round((dbm + 74) * 2) & 0xFF


def parse_frame_line(line: str) -> Event | None:
    """A ``b…`` line → :class:`Heard` / :class:`Fault`; ``None`` if the line is not a telegram."""
    match = _FRAME_LINE.match(line)
    if match is None:
        return None
    fmt_b, hexdata = bool(match.group(1)), match.group(2)
    if len(hexdata) % 2 or len(hexdata) < 24:
        return Fault("framing", f"CUL line with odd/short hex ({len(hexdata)} digits)")
    raw = bytes.fromhex(hexdata)
    on_air = raw[0] + 1 if fmt_b else format_a_length(raw[0])
    trailer = raw[on_air:]
    frame = raw[:on_air]
    if len(trailer) not in (0, 2) or len(frame) < on_air:
        return Fault("framing", f"CUL frame length {len(raw)} does not match L=0x{raw[0]:02X}")
    rssi = rssi_dbm(trailer[1]) if trailer else None
    mode = LinkMode.C1B if fmt_b else None
    stripped = strip_format_b(frame) if fmt_b else strip_format_a(frame)
    if stripped is None:
        return Heard(frame, rssi, mode, has_crcs=True)
    return Heard(stripped, rssi, mode)


class CulFramer:
    """Pure culfw line framer."""

    def __init__(self) -> None:
        self._lines = LineBuffer()

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; telegram lines become :class:`Heard`, other lines :class:`Reply` (key = text)."""
        events: list[Event] = []
        for line in self._lines.feed(data):
            event = parse_frame_line(line)
            if isinstance(event, Heard) and event.has_crcs:
                events.append(Fault("crc", "CUL frame CRC mismatch"))
            events.append(event if event is not None else Reply(line, line.encode()))
        return events

    def idle(self) -> list[Event]:
        """A partial line that stalled is noise."""
        if not self._lines.pending():
            return []
        self._lines.clear()
        return [Fault("framing", "incomplete CUL line")]


def _line(text: str):  # type: ignore[no-untyped-def]
    return lambda reply: isinstance(reply.key, str) and text in reply.key


class CulDriver:
    """CUL / nanoCUL running culfw."""

    name = "cul"
    baudrate = BAUDRATE

    def framer(self) -> CulFramer:
        """A fresh line framer."""
        return CulFramer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """``V`` (must mention CUL), ``X21`` (LQI+RSSI), ``br?`` (receive mode, answered TMODE/SMODE/CMODE)."""
        mode = link_mode_setting(LINK_MODES, link_mode, "CUL")
        command, answer = mode
        return [
            Step(b"\r\nV\r\n", _line("CUL"), "version", capture="version"),
            Step(b"X21\r\n", None, "report RSSI"),
            Step(command.encode() + b"\r\n", _line(answer), f"{command} → {answer}"),
        ]

    def reset_steps(self) -> Sequence[Step]:
        """culfw has no soft reset worth sending; the watchdog reopens the port and re-inits."""
        return []

    def probe_steps(self) -> Sequence[Step]:
        """The version line contains ``CUL``."""
        return [Step(b"\r\nV\r\n", _line("CUL"), "version", timeout_s=1.0, capture="version")]

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """``b`` lines in C mode are format A."""
        return LinkMode.C1A if link_mode.upper() == "C1" else link_mode_enum(link_mode)

    @staticmethod
    def describe(captured: dict[str, bytes]) -> str:
        """The version line."""
        return captured.get("version", b"").decode(errors="replace") or "culfw"
