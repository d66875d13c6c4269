"""Radiocrafts RC1180-MBUS3 (and MBUS4 family): framer, config-mode init. Fact sheet §5.4.

Data mode (19200 8N1), DATA_INTERFACE = 0x00, RSSI_MODE = 1::

    +---+---+------+------+-----+---------+------+
    | L | C | M(2) | A(6) | CI  | data …  | RSSI |     L counts every byte after it, RSSI included
    +---+---+------+------+-----+---------+------+

There is no start byte or checksum, so the framer checks the C-field against the link-layer values and
resynchronises one byte further on a mismatch (or when a partial frame stalls). Config mode: the host sends
0x00, the module prompts ``>``; ``M`` + (address, value)… + 0xFF writes NVM and prompts again; ``X`` leaves.
The framer follows the host's bytes (:meth:`Rc1180Framer.sent`) to know which mode the module is in.
RSSI dBm = −raw / 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.types import LinkMode
from hardware.base import Buffer, Event, Fault, Heard, Reply, Step, link_mode_enum, link_mode_setting

BAUDRATE = 19200
PROMPT = ord(">")
# NVM addresses (RC1180-MBUS3 manual v2.01)
NVM_MBUS_MODE, NVM_RSSI_MODE, NVM_DATA_INTERFACE = 0x03, 0x05, 0x36
LINK_MODES: dict[str, int] = {"S1": 3, "T1": 1, "C1": 9, "C1T1": 10, "T1C1": 10}
# C-fields a receiver can hear (EN 13757-4, fact sheet §1.5): used to find frame starts.
C_FIELDS = frozenset({0x44, 0x46, 0x47, 0x48, 0x08, 0x00, 0x01, 0x06, 0x40, 0x43, 0x53, 0x73, 0x5A, 0x7A,
                      0x5B, 0x7B})


def rssi_dbm(raw: int) -> float:
    """RC1180 RSSI byte → dBm."""
    return -raw / 2


def rssi_raw(dbm: float) -> int:
    """Inverse of :func:`rssi_dbm` (for simulators)."""
    return max(0, min(255, round(-dbm * 2)))


class Rc1180Framer:
    """Pure RC1180 framer for data mode with the RSSI byte appended, plus config-mode prompts."""

    def __init__(self, rssi_enabled: bool = True) -> None:
        self._buf = Buffer()
        self.rssi_enabled = rssi_enabled
        self.config_mode = False

    def sent(self, data: bytes) -> None:
        """Host bytes: 0x00 enters config mode, ``X`` leaves it."""
        if data[:1] == b"\x00":
            self.config_mode = True
        elif data[:1] == b"X":
            self.config_mode = False

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return completed events."""
        self._buf.add(data)
        events: list[Event] = []
        while self._buf.data and self._step(events):
            pass
        return events

    def idle(self) -> list[Event]:
        """Drop one byte of a stalled partial frame and re-parse."""
        if not self._buf.data or self.config_mode:
            return []
        self._buf.drop(1)
        return [Fault("framing", "incomplete RC1180 frame"), *self.feed(b"")]

    def _step(self, events: list[Event]) -> bool:
        buf = self._buf.data
        if self.config_mode:
            prompt = buf.find(PROMPT)
            if prompt < 0:
                return False
            events.append(Reply("prompt", bytes(buf[:prompt])))
            self._buf.drop(prompt + 1)
            return True
        extra = 1 if self.rssi_enabled else 0
        if len(buf) >= 2 and (buf[0] < 10 + extra or buf[1] not in C_FIELDS):
            self._buf.drop(1)
            events.append(Fault("framing", "no frame start"))
            return True
        if len(buf) < 2 or len(buf) < buf[0] + 1:
            return False
        total = buf[0] + 1
        raw = bytes(buf[:total])
        self._buf.drop(total)
        body = raw[1 : total - extra]
        events.append(Heard(bytes([len(body)]) + body, rssi_dbm(raw[-1]) if extra else None))
        return True


def _prompt(reply: Reply) -> bool:
    return reply.key == "prompt"


class Rc1180Driver:
    """Radiocrafts RC1180-MBUS3."""

    name = "rc1180"
    baudrate = BAUDRATE

    def framer(self) -> Rc1180Framer:
        """A fresh framer (data mode, RSSI appended — init sets it so)."""
        return Rc1180Framer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """Config mode, write MBUS_MODE / RSSI_MODE / DATA_INTERFACE to NVM, leave config mode."""
        code = link_mode_setting(LINK_MODES, link_mode, "RC1180")
        writes = bytes([NVM_MBUS_MODE, code, NVM_RSSI_MODE, 1, NVM_DATA_INTERFACE, 0x00, 0xFF])
        return [
            Step(b"\x00", _prompt, "enter config mode"),
            Step(b"M" + writes, _prompt, "write NVM"),
            Step(b"X", None, "leave config mode"),
        ]

    def reset_steps(self) -> Sequence[Step]:
        """No soft reset: the init sequence is re-run after reopening."""
        return []

    def probe_steps(self) -> Sequence[Step]:
        """A ``>`` prompt after 0x00, then leave config mode again."""
        return [Step(b"\x00", _prompt, "config prompt", timeout_s=1.0), Step(b"X", None, "leave config")]

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """Not reported per frame."""
        return link_mode_enum(link_mode)

    @staticmethod
    def describe(captured: dict[str, bytes]) -> str:
        """Nothing more to say without reading the NVM."""
        return "Radiocrafts RC1180-MBUS"
