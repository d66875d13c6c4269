"""IMST iM871A / iM170A (WMBus HCI): framer, commands, link-mode setup. Fact sheet §5.1.

HCI frame (57600 8N1)::

    +------+-----------------+--------+-----+-------------+-----------+--------+-----------+
    | A5   | ctrl<<4 | endpt | msg_id | len | payload(len)| [ts 4 LE] | [rssi] | [FCS 2 LE]|
    +------+-----------------+--------+-----+-------------+-----------+--------+-----------+

ctrl bits: 0x2 timestamp attached, 0x4 RSSI attached, 0x8 FCS attached (bit 0 reserved, must be 0).
FCS = CRC-16/X.25 (reflected 0x8408, init 0xFFFF, inverted) over ctrl byte … last byte before the FCS.
A received telegram is endpoint 2 / msg 0x03 (WMBUSMSG_IND): payload = C-field onwards, no L, no CRCs;
``len`` equals the wM-Bus L-field, so the frame is rebuilt as ``bytes([len]) + payload``.
"""

from __future__ import annotations

from collections.abc import Sequence

from construct import BitStruct, Const, Int8ub, Nibble, Struct

from core.types import LinkMode
from hardware.base import Buffer, Event, Fault, Heard, Reply, Step, link_mode_enum, link_mode_setting

SOF = 0xA5
BAUDRATE = 57600

HCI_HEADER = Struct(
    "sof" / Const(b"\xa5"),
    "ctrl" / BitStruct("control" / Nibble, "endpoint" / Nibble),
    "msg_id" / Int8ub,
    "length" / Int8ub,
).compile()

CTRL_TIMESTAMP = 0x2
CTRL_RSSI = 0x4
CTRL_FCS = 0x8

EP_DEVMGMT, EP_RADIOLINK, EP_RADIOLINKTEST, EP_HWTEST = 0x01, 0x02, 0x03, 0x04
PING_REQ, PING_RSP = 0x01, 0x02
SET_CONFIG_REQ, SET_CONFIG_RSP = 0x03, 0x04
RESET_REQ, RESET_RSP = 0x07, 0x08
GET_DEVICEINFO_REQ, GET_DEVICEINFO_RSP = 0x0F, 0x10
WMBUSMSG_IND = 0x03

# Link-mode byte of SET_CONFIG (fact sheet §5.1, wmbusmeters / ioBroker values).
LINK_MODES: dict[str, int] = {
    "S1": 0x00, "S1M": 0x01, "S2": 0x02, "T1": 0x03, "T2": 0x04, "R2": 0x05,
    "C1A": 0x06, "C1": 0x07, "C1B": 0x07, "C2A": 0x08, "C2B": 0x09, "C1T1": 0x0A, "T1C1": 0x0A,
}

# SET_CONFIG payload as sent here: RAM only; IIFlag1 = device mode + link mode; IIFlag2 = RSSI + timestamp.
SET_CONFIG = Struct(
    "nvm" / Const(b"\x00"),
    "iiflag1" / Const(b"\x03"),
    "device_mode" / Const(b"\x00"),  # 0 = other (collector)
    "link_mode" / Int8ub,
    "iiflag2" / Const(b"\x30"),
    "rssi_attached" / Int8ub,
    "timestamp_attached" / Int8ub,
)

DEVICE_INFO = Struct(
    "module_type" / Int8ub,  # 0x33 iM871A, 0x36 iM170A
    "device_mode" / Int8ub,
    "firmware" / Int8ub,
    "hci_version" / Int8ub,
    "uid" / Struct("value" / Int8ub[4]),
)
MODULE_TYPES = {0x33: "iM871A", 0x36: "iM170A"}


def _make_x25_table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_X25 = _make_x25_table()


def fcs(data: bytes | bytearray | memoryview) -> int:
    """HCI frame check sequence (CRC-16/X.25) of ``data``."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _X25[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def rssi_dbm(raw: int) -> float:
    """iM871A RSSI byte → dBm (≈ raw·8/15 − 126.67, fact sheet §5.1)."""
    return round(raw * 8 / 15 - 380 / 3, 2)


def rssi_raw(dbm: float) -> int:
    """Inverse of :func:`rssi_dbm`, clamped to a byte (for simulators)."""
    return max(0, min(255, round((dbm + 380 / 3) * 15 / 8)))


def build(endpoint: int, msg_id: int, payload: bytes = b"", *, with_fcs: bool = True,
          rssi: int | None = None, timestamp: int | None = None) -> bytes:
    """Build one HCI frame."""
    control = (CTRL_FCS if with_fcs else 0) | (CTRL_RSSI if rssi is not None else 0)
    control |= CTRL_TIMESTAMP if timestamp is not None else 0
    header: bytes = HCI_HEADER.build({"ctrl": {"control": control, "endpoint": endpoint}, "msg_id": msg_id,
                                      "length": len(payload)})
    body = header + payload
    if timestamp is not None:
        body += timestamp.to_bytes(4, "little")
    if rssi is not None:
        body += bytes([rssi])
    if with_fcs:
        body += fcs(body[1:]).to_bytes(2, "little")
    return body


class HciFramer:
    """Pure HCI framer: resynchronises on 0xA5 after garbage or a bad FCS, survives split reads."""

    def __init__(self) -> None:
        self._buf = Buffer()

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return completed events."""
        self._buf.add(data)
        events: list[Event] = []
        while self._buf.data:
            status = self._step(events)
            if status == "wait":
                break
        return events

    def idle(self) -> list[Event]:
        """Drop a partial frame that stalled (e.g. a stray 0xA5 in garbage) and re-parse the rest."""
        if not self._buf.data:
            return []
        self._buf.resync(SOF)
        return [Fault("framing", "incomplete HCI frame"), *self.feed(b"")]

    def _step(self, events: list[Event]) -> str:
        buf = self._buf.data
        if buf[0] != SOF:
            self._buf.resync(SOF) if SOF in buf else buf.clear()
            events.append(Fault("framing", "bytes outside an HCI frame"))
            return "go"
        if len(buf) < 4:
            return "wait"
        hdr = HCI_HEADER.parse(bytes(buf[:4]))
        control, endpoint = hdr.ctrl.control, hdr.ctrl.endpoint
        if control & 0x1 or not EP_DEVMGMT <= endpoint <= EP_HWTEST:
            self._buf.resync(SOF)
            events.append(Fault("framing", f"bad HCI header {bytes(buf[:4]).hex()}"))
            return "go"
        extra = (4 if control & CTRL_TIMESTAMP else 0) + (1 if control & CTRL_RSSI else 0)
        total = 4 + hdr.length + extra + (2 if control & CTRL_FCS else 0)
        if len(buf) < total:
            return "wait"
        raw = bytes(buf[:total])
        if control & CTRL_FCS and fcs(raw[1:-2]) != int.from_bytes(raw[-2:], "little"):
            self._buf.resync(SOF)
            events.append(Fault("crc", "HCI FCS mismatch"))
            return "go"
        self._buf.drop(total)
        payload = raw[4 : 4 + hdr.length]
        rssi = raw[4 + hdr.length + extra - 1] if control & CTRL_RSSI else None
        events.append(_event(endpoint, hdr.msg_id, payload, rssi))
        return "go"


def _event(endpoint: int, msg_id: int, payload: bytes, rssi: int | None) -> Event:
    if endpoint == EP_RADIOLINK and msg_id == WMBUSMSG_IND:
        if len(payload) < 10:
            return Fault("framing", f"WMBUSMSG_IND too short ({len(payload)} bytes)")
        return Heard(bytes([len(payload)]) + payload, rssi_dbm(rssi) if rssi is not None else None)
    return Reply((endpoint, msg_id), payload)


def _is(endpoint: int, msg_id: int):  # type: ignore[no-untyped-def]
    return lambda reply: reply.key == (endpoint, msg_id)


class Im871aDriver:
    """IMST iM871A / iM170A receiver family."""

    name = "im871a"
    baudrate = BAUDRATE

    def framer(self) -> HciFramer:
        """A fresh HCI framer."""
        return HciFramer()

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """Ping, read device info, SET_CONFIG (RAM) for ``link_mode`` with RSSI attached."""
        code = link_mode_setting(LINK_MODES, link_mode, "iM871A")
        config = SET_CONFIG.build({"link_mode": code, "rssi_attached": 1, "timestamp_attached": 0})
        return [
            Step(build(EP_DEVMGMT, PING_REQ), _is(EP_DEVMGMT, PING_RSP), "ping"),
            Step(build(EP_DEVMGMT, GET_DEVICEINFO_REQ), _is(EP_DEVMGMT, GET_DEVICEINFO_RSP), "device info",
                 capture="device_info"),
            Step(build(EP_DEVMGMT, SET_CONFIG_REQ, config), _is(EP_DEVMGMT, SET_CONFIG_RSP), "set config"),
        ]

    def reset_steps(self) -> Sequence[Step]:
        """RESET_REQ; the module reboots with its NVM config, so init runs again afterwards."""
        return [Step(build(EP_DEVMGMT, RESET_REQ), _is(EP_DEVMGMT, RESET_RSP), "reset")]

    def probe_steps(self) -> Sequence[Step]:
        """Ping and device info identify an iM871A/iM170A."""
        return [
            Step(build(EP_DEVMGMT, PING_REQ), _is(EP_DEVMGMT, PING_RSP), "ping", timeout_s=1.0),
            Step(build(EP_DEVMGMT, GET_DEVICEINFO_REQ), _is(EP_DEVMGMT, GET_DEVICEINFO_RSP), "device info",
                 timeout_s=1.0, capture="device_info"),
        ]

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """The iM871A does not say per frame which mode it heard; C1+T1 gives UNKNOWN."""
        return link_mode_enum("C1" if link_mode.upper() in ("C1A", "C1B") else link_mode)

    @staticmethod
    def describe(captured: dict[str, bytes]) -> str:
        """Human-readable module type from a captured device-info payload."""
        info = captured.get("device_info", b"")
        if len(info) >= 4:
            return f"{MODULE_TYPES.get(info[0], hex(info[0]))} firmware 0x{info[2]:02X}"
        return "iM871A family"
