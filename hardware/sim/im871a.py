"""iM871A simulator over a pty: answers PING, GET_DEVICEINFO, SET_CONFIG, RESET; emits WMBUSMSG_IND.

``sim.transmit(frame, rssi_dbm=-60)`` takes a frame starting with L, with or without DLL CRCs (format A or
B): like the real module it delivers it without L and without CRCs, with the RSSI byte if the host asked for
it in SET_CONFIG (IIFlag2 0x10) and with an FCS.
"""

from __future__ import annotations

from hardware import im871a as hci
from hardware.base import Reply
from hardware.dll import strip_crcs
from hardware.sim.base import PtySimulator

# SET_CONFIG field sizes in bit order (fact sheet §5.1); LED/RTC control assumed 1 byte each.
_IIFLAG1_SIZES = [(0x01, 1), (0x02, 1), (0x04, 1), (0x08, 2), (0x10, 4), (0x20, 1), (0x40, 1), (0x80, 1)]
_IIFLAG2_SIZES = [(0x01, 1), (0x02, 1), (0x04, 1), (0x08, 1), (0x10, 1), (0x20, 1), (0x40, 1), (0x80, 1)]


def parse_set_config(payload: bytes) -> dict[str, int]:
    """Fields of a SET_CONFIG request keyed by name (``link_mode``, ``rssi``, ``timestamp``)."""
    out: dict[str, int] = {"nvm": payload[0]}
    pos = 1
    for flags_name, sizes in (("iiflag1", _IIFLAG1_SIZES), ("iiflag2", _IIFLAG2_SIZES)):
        if pos >= len(payload):
            break
        flags = payload[pos]
        out[flags_name] = flags
        pos += 1
        for bit, size in sizes:
            if flags & bit:
                out[f"{flags_name}:{bit:#04x}"] = int.from_bytes(payload[pos : pos + size], "little")
                pos += size
    return {**out, "link_mode": out.get("iiflag1:0x02", -1), "rssi": out.get("iiflag2:0x10", 0),
            "timestamp": out.get("iiflag2:0x20", 0)}


class Im871aSimulator(PtySimulator):
    """A simulated IMST iM871A on a pty."""

    def __init__(self, *, module_type: int = 0x33, firmware: int = 0x14) -> None:
        super().__init__()
        self._framer = hci.HciFramer()
        self.module_type, self.firmware = module_type, firmware
        self.link_mode: int | None = None
        self.rssi_attached = False
        self.resets = 0

    def on_bytes(self, data: bytes) -> None:
        """Answer device-management requests."""
        for event in self._framer.feed(data):
            if isinstance(event, Reply) and event.key[0] == hci.EP_DEVMGMT:  # type: ignore[index]
                self._answer(event.key[1], event.payload)  # type: ignore[index]

    def _answer(self, msg_id: int, payload: bytes) -> None:
        if msg_id == hci.PING_REQ:
            self._reply(hci.PING_RSP)
        elif msg_id == hci.GET_DEVICEINFO_REQ:
            info = bytes([self.module_type, 0, self.firmware, 0x01]) + (0x12345678).to_bytes(4, "little")
            self._reply(hci.GET_DEVICEINFO_RSP, info)
        elif msg_id == hci.SET_CONFIG_REQ:
            fields = parse_set_config(payload)
            self.link_mode = fields["link_mode"] if fields["link_mode"] >= 0 else self.link_mode
            self.rssi_attached = bool(fields["rssi"])
            self.muted = False
            self.inits += 1
            self._reply(hci.SET_CONFIG_RSP, b"\x00")
        elif msg_id == hci.RESET_REQ:
            self.resets += 1
            self.link_mode, self.rssi_attached = None, False
            self._reply(hci.RESET_RSP)

    def _reply(self, msg_id: int, payload: bytes = b"") -> None:
        self.send(hci.build(hci.EP_DEVMGMT, msg_id, payload))

    def indication(self, frame: bytes, rssi_dbm: float = -60.0) -> bytes:
        """The HCI bytes the module would send for ``frame`` (L-first, CRCs optional)."""
        plain = strip_crcs(frame)
        rssi = hci.rssi_raw(rssi_dbm) if self.rssi_attached else None
        return hci.build(hci.EP_RADIOLINK, hci.WMBUSMSG_IND, plain[1:], rssi=rssi)

    def transmit(self, frame: bytes, rssi_dbm: float = -60.0) -> bool:
        """Deliver a received telegram to the host; False if the device is muted or not configured."""
        if self.muted or self.link_mode is None:
            return False
        self.send(self.indication(frame, rssi_dbm))
        return True
