"""IMST iU891A(-XL) USB stick (iM891A module), IMST's successor to the discontinued iM871A.

**What differs from the iM871A** (``hardware/im871a.py``), from public descriptions of the stick (IMST's
WiMOD HCI family; hobby drivers and the ioBroker/wmbusmeters support that appeared in 2023–2025):

* Framing: SLIP (RFC 1055) instead of the 0xA5 start byte — ``C0`` ends (and starts) a message, ``DB DC``
  stands for ``C0`` and ``DB DD`` for ``DB`` inside one. No length byte: the message is what lies between two
  ``C0``. Serial speed 115200 8N1 instead of 57600.
* Message: ``endpoint(SAP) msg_id payload… CRC16`` — the same CRC-16/X.25 as the iM871A FCS (reflected
  0x8408, init 0xFFFF, inverted), little endian, over endpoint … last payload byte, always present.
* A sleeping stick is woken by a run of ``C0`` bytes before the first command.
* Device management endpoint 0x01: PING 0x01/0x02, GET_DEVICE_INFO 0x03/0x04 (the iM871A used 0x0F/0x10);
  responses start with a status byte (0x00 = OK). Radio link endpoint 0x09 (iM871A: 0x02): SET_CONFIG
  0x03/0x04.
* Received telegram (radio link endpoint): 8 header bytes after endpoint and msg id — status/format, link
  mode and a 4-byte timestamp (**assumed**: only their length is used here) — then the RSSI as a signed byte in
  dBm (the iM871A sends a raw 0–255 value), then the wM-Bus frame from its L field, DLL CRCs removed.

**Assumed, not from IMST's own documentation** (not publicly downloadable): the radio-link msg id of received
telegrams — any radio-link message other than the SET_CONFIG response whose length matches the L field it
carries is taken as a telegram; the SET_CONFIG payload ``mode options(2) ui(2) led(2) recalib(4)`` with
mode 0x03 = C1+T1, 0x01 = T1, 0x02 = C1, 0x00 = S1 (0x03 observed on a stick; the others follow IMST's
numbering). The simulator (``hardware/sim/iu891a.py``) implements exactly this reading.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.types import LinkMode
from hardware.base import Event, Fault, Heard, Reply, Step, link_mode_enum, link_mode_setting
from hardware.im871a import fcs

BAUDRATE = 115200
END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
WAKE_UP = bytes([END]) * 30
EP_DEVMGMT, EP_RADIOLINK = 0x01, 0x09
PING_REQ, PING_RSP = 0x01, 0x02
GET_DEVICE_INFO_REQ, GET_DEVICE_INFO_RSP = 0x03, 0x04
SET_CONFIG_REQ, SET_CONFIG_RSP = 0x03, 0x04
RADIO_HEADER = 8  # bytes between msg id and RSSI in a received telegram
MAX_MESSAGE = 600  # longer runs without an END byte are garbage
LINK_MODES: dict[str, int] = {"S1": 0x00, "T1": 0x01, "C1": 0x02, "C1T1": 0x03, "T1C1": 0x03}
CONFIG_TAIL = bytes.fromhex("0e0000003200a0bb0d00")  # options, UI, LED, recalibration (observed values)


def slip_encode(message: bytes) -> bytes:
    """``message`` between two END bytes, with END/ESC escaped."""
    body = message.replace(bytes([ESC]), bytes([ESC, ESC_ESC])).replace(bytes([END]), bytes([ESC, ESC_END]))
    return bytes([END]) + body + bytes([END])


def slip_decode(body: bytes) -> bytes | None:
    """The message a SLIP body (between END bytes) spells, or None for a bad escape."""
    out = bytearray()
    escaped = False
    for b in body:
        if escaped:
            if b not in (ESC_END, ESC_ESC):
                return None
            out.append(END if b == ESC_END else ESC)
            escaped = False
        elif b == ESC:
            escaped = True
        else:
            out.append(b)
    return None if escaped else bytes(out)


def seal(message: bytes) -> bytes:
    """``message`` (endpoint, msg id, payload) with its CRC, SLIP-framed."""
    return slip_encode(message + fcs(message).to_bytes(2, "little"))


def build(endpoint: int, msg_id: int, payload: bytes = b"") -> bytes:
    """One SLIP-framed HCI message with its CRC."""
    return seal(bytes([endpoint, msg_id]) + payload)


def telegram_message(frame: bytes, rssi_dbm: int, msg_id: int = 0x06, header: bytes = bytes(RADIO_HEADER)) -> bytes:
    """The message (before SLIP) a stick sends for a received ``frame`` (L first, no CRCs); for simulators."""
    return bytes([EP_RADIOLINK, msg_id]) + header + bytes([rssi_dbm & 0xFF]) + frame


class SlipFramer:
    """Pure iU891A framer: SLIP messages → events; resynchronises on END after garbage or a bad CRC."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return completed events."""
        self._buf += data
        events: list[Event] = []
        while (end := self._buf.find(END)) >= 0:
            body = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if body:
                events.append(_message(body))
        if len(self._buf) > MAX_MESSAGE:
            self._buf.clear()
            events.append(Fault("framing", "no SLIP END byte"))
        return events

    def idle(self) -> list[Event]:
        """A message is only complete at its END byte: a stalled partial one is dropped."""
        if not self._buf:
            return []
        self._buf.clear()
        return [Fault("framing", "incomplete SLIP message")]


def parse_message(body: bytes) -> tuple[int, int, bytes] | Fault:
    """Endpoint, msg id and payload of one SLIP body (CRC checked), or the :class:`Fault`."""
    message = slip_decode(body)
    if message is None or len(message) < 4:
        return Fault("framing", f"bad SLIP message {body[:16].hex()}")
    if fcs(message[:-2]) != int.from_bytes(message[-2:], "little"):
        return Fault("crc", "HCI CRC mismatch")
    return message[0], message[1], message[2:-2]


def _message(body: bytes) -> Event:
    parsed = parse_message(body)
    if isinstance(parsed, Fault):
        return parsed
    endpoint, msg_id, payload = parsed
    if endpoint == EP_RADIOLINK and msg_id != SET_CONFIG_RSP:
        return _telegram(payload)
    return Reply((endpoint, msg_id), payload)


def _telegram(payload: bytes) -> Event:
    if len(payload) < RADIO_HEADER + 12:
        return Fault("framing", f"radio message too short ({len(payload)} bytes)")
    rssi = payload[RADIO_HEADER]
    frame = payload[RADIO_HEADER + 1 :]
    if frame[0] != len(frame) - 1:
        return Fault("framing", f"radio message length {len(frame)} vs L={frame[0]}")
    return Heard(frame, float(rssi - 256 if rssi > 127 else rssi))


def _ok(endpoint: int, msg_id: int):  # type: ignore[no-untyped-def]
    return lambda reply: reply.key == (endpoint, msg_id) and reply.payload[:1] in (b"", b"\x00")


class Iu891aDriver:
    """IMST iU891A / iU891A-XL receiver."""

    name = "iu891a"
    baudrate = BAUDRATE

    def framer(self) -> SlipFramer:
        """A fresh SLIP framer."""
        return SlipFramer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """Wake up, device info, SET_CONFIG for ``link_mode``."""
        mode = link_mode_setting(LINK_MODES, link_mode, "iU891A")
        return [
            Step(WAKE_UP, None, "wake up"),
            Step(build(EP_DEVMGMT, GET_DEVICE_INFO_REQ), _ok(EP_DEVMGMT, GET_DEVICE_INFO_RSP), "device info",
                 capture="device_info"),
            Step(build(EP_RADIOLINK, SET_CONFIG_REQ, bytes([mode]) + CONFIG_TAIL),
                 _ok(EP_RADIOLINK, SET_CONFIG_RSP), "set config"),
        ]

    def reset_steps(self) -> Sequence[Step]:
        """No documented reset command: the loop closes and reopens the port and runs init again."""
        return []

    def probe_steps(self) -> Sequence[Step]:
        """Wake up and ask for the device info."""
        return [
            Step(WAKE_UP, None, "wake up"),
            Step(build(EP_DEVMGMT, GET_DEVICE_INFO_REQ), _ok(EP_DEVMGMT, GET_DEVICE_INFO_RSP), "device info",
                 timeout_s=1.0, capture="device_info"),
        ]

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """The mode is not read from the telegram header here: C1+T1 gives UNKNOWN."""
        return link_mode_enum(link_mode)

    @staticmethod
    def describe(captured: dict[str, bytes]) -> str:
        """What the device info says (status byte, then module type and firmware when present)."""
        info = captured.get("device_info", b"")
        if len(info) >= 3:
            return f"iU891A (module type 0x{info[1]:02X}, firmware 0x{info[2]:02X})"
        return "iU891A"
