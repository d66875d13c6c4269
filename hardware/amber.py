"""Amber AMB8465 / AMB8665 (Würth "Metis") in command mode: framer, commands, init. Fact sheet §5.2.

Command frame (9600 8N1)::

    +----+-----+-----+--------------+----+
    | FF | cmd | len | payload(len) | CS |     CS = XOR of every byte before it, FF included
    +----+-----+-----+--------------+----+

Confirmations use ``cmd | 0x80``. A received telegram is CMD_DATA_IND (0x03): payload = C-field onwards (no L,
no CRCs) plus one RSSI byte when RSSI_Enable (NVM 0x45) is set — ``len`` counts it. The framer learns whether
RSSI is on from the GET confirmation for address 0x45 that the init sequence requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from construct import Bytes, Const, Int8ub, Struct, this

from core.types import LinkMode
from hardware.base import Buffer, Event, Fault, Heard, Reply, Step, link_mode_enum, link_mode_setting

SOF = 0xFF
BAUDRATE = 9600

AMBER_FRAME = Struct(
    "sof" / Const(b"\xff"),
    "cmd" / Int8ub,
    "length" / Int8ub,
    "payload" / Bytes(this.length),
    "checksum" / Int8ub,
)

DATA_REQ, DATA_IND, SET_MODE_REQ, RESET_REQ = 0x00, 0x03, 0x04, 0x05
SET_REQ, GET_REQ, SERIALNO_REQ, FWV_REQ = 0x09, 0x0A, 0x0B, 0x0C
CNF = 0x80
NVM_UART_CMD_OUT, NVM_RSSI_ENABLE = 0x05, 0x45
KNOWN_CMDS = frozenset({DATA_IND} | {c | CNF for c in (0x00, 0x02, 0x04, 0x05, 0x06, 0x09, 0x0A, 0x0B,
                                                        0x0C, 0x0D, 0x10, 0x11, 0x30, 0x31, 0x50, 0x51, 0x52)}
                       | {0x00, 0x02, 0x04, 0x05, 0x06, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x10, 0x11})

# SET_MODE values for a collector (fact sheet §5.2).
LINK_MODES: dict[str, int] = {"S1": 0x03, "T1": 0x08, "C1": 0x0E, "C1T1": 0x09, "T1C1": 0x09}


def checksum(data: bytes | bytearray) -> int:
    """XOR of all bytes."""
    return reduce(lambda a, b: a ^ b, data, 0)


def build(cmd: int, payload: bytes = b"") -> bytes:
    """Build one command frame with its checksum."""
    body = bytes([SOF, cmd, len(payload)]) + payload
    return body + bytes([checksum(body)])


def rssi_dbm(raw: int) -> float:
    """Amber RSSI byte → dBm (two's complement / 2 − 74)."""
    return (raw - 256 if raw >= 128 else raw) / 2 - 74


def rssi_raw(dbm: float) -> int:
    """Inverse of :func:`rssi_dbm` (for simulators)."""
    return round((dbm + 74) * 2) & 0xFF


class AmberFramer:
    """Pure Amber command-frame framer; resynchronises on 0xFF after garbage or a bad checksum."""

    def __init__(self, rssi_enabled: bool = True) -> None:
        self._buf = Buffer()
        self.rssi_enabled = rssi_enabled

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return completed events."""
        self._buf.add(data)
        events: list[Event] = []
        while self._buf.data and self._step(events):
            pass
        return events

    def idle(self) -> list[Event]:
        """Drop a stalled partial frame and re-parse what follows it."""
        if not self._buf.data:
            return []
        self._buf.resync(SOF)
        return [Fault("framing", "incomplete Amber frame"), *self.feed(b"")]

    def _step(self, events: list[Event]) -> bool:
        buf = self._buf.data
        if buf[0] != SOF or (len(buf) > 1 and buf[1] not in KNOWN_CMDS):
            self._buf.resync(SOF)
            events.append(Fault("framing", "bytes outside an Amber frame"))
            return True
        if len(buf) < 3 or len(buf) < buf[2] + 4:
            return False
        total = buf[2] + 4
        raw = bytes(buf[:total])
        if checksum(raw[:-1]) != raw[-1]:
            self._buf.resync(SOF)
            events.append(Fault("crc", "Amber checksum mismatch"))
            return True
        self._buf.drop(total)
        events.append(self._event(AMBER_FRAME.parse(raw)))
        return True

    def _event(self, frame: object) -> Event:
        cmd, payload = frame.cmd, frame.payload  # type: ignore[attr-defined]
        if cmd == DATA_IND:
            rssi = payload[-1] if self.rssi_enabled else None
            body = payload[:-1] if self.rssi_enabled else payload
            if len(body) < 10:
                return Fault("framing", f"CMD_DATA_IND too short ({len(body)} bytes)")
            return Heard(bytes([len(body)]) + body, rssi_dbm(rssi) if rssi is not None else None)
        if cmd == GET_REQ | CNF and len(payload) >= 3 and payload[0] == NVM_RSSI_ENABLE:
            self.rssi_enabled = payload[2] == 1
        return Reply(cmd, payload)


def _cnf(cmd: int):  # type: ignore[no-untyped-def]
    return lambda reply: reply.key == cmd | CNF


def _enable_cmd_output(reply: Reply) -> Sequence[Step]:
    """UART_CMD_Out_Enable off (transparent mode): switch it on in NVM and reset the module."""
    if len(reply.payload) >= 3 and reply.payload[2] == 1:
        return []
    return [Step(build(SET_REQ, bytes([NVM_UART_CMD_OUT, 1, 1])), _cnf(SET_REQ), "enable command output"),
            Step(build(RESET_REQ), _cnf(RESET_REQ), "reset after NVM write", timeout_s=3.0)]


class AmberDriver:
    """Amber AMB8465 / AMB8665 receiver family."""

    name = "amb8465"
    baudrate = BAUDRATE

    def framer(self) -> AmberFramer:
        """A fresh framer (RSSI assumed on until the device says otherwise)."""
        return AmberFramer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """Firmware version, command-output check, RSSI setting, SET_MODE (volatile)."""
        code = link_mode_setting(LINK_MODES, link_mode, "Amber")
        return [
            Step(build(FWV_REQ), _cnf(FWV_REQ), "firmware version", capture="firmware"),
            Step(build(GET_REQ, bytes([NVM_UART_CMD_OUT, 1])), _cnf(GET_REQ), "command output?",
                 follow=_enable_cmd_output),
            Step(build(GET_REQ, bytes([NVM_RSSI_ENABLE, 1])), _cnf(GET_REQ), "RSSI enabled?"),
            Step(build(SET_MODE_REQ, bytes([code])), _cnf(SET_MODE_REQ), "set mode"),
        ]

    def reset_steps(self) -> Sequence[Step]:
        """RESET_REQ."""
        return [Step(build(RESET_REQ), _cnf(RESET_REQ), "reset", timeout_s=3.0)]

    def probe_steps(self) -> Sequence[Step]:
        """Firmware version and serial number identify an Amber module."""
        return [Step(build(FWV_REQ), _cnf(FWV_REQ), "firmware version", timeout_s=1.0, capture="firmware"),
                Step(build(SERIALNO_REQ), _cnf(SERIALNO_REQ), "serial", timeout_s=1.0, capture="serial")]

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """Amber does not report the mode per frame."""
        return link_mode_enum(link_mode)

    @staticmethod
    def describe(captured: dict[str, bytes]) -> str:
        """Firmware and serial number."""
        fw = ".".join(str(b) for b in captured.get("firmware", b""))
        return f"Amber AMB8465/8665 firmware {fw} serial {captured.get('serial', b'').hex().upper()}"
