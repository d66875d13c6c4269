"""iU891A simulator over a pty: SLIP messages; answers GET_DEVICE_INFO and SET_CONFIG (after a wake-up run of
END bytes), emits received telegrams as ``hardware/iu891a.py`` reads them (header, signed RSSI, L-first frame
without CRCs)."""

from __future__ import annotations

from hardware import iu891a as hci
from hardware.dll import strip_crcs
from hardware.sim.base import PtySimulator


class Iu891aSimulator(PtySimulator):
    """A simulated IMST iU891A on a pty."""

    def __init__(self, *, module_type: int = 0x91, firmware: int = 0x12) -> None:
        super().__init__()
        self._buf = bytearray()
        self.module_type, self.firmware = module_type, firmware
        self.mode: int | None = None
        self.config: bytes = b""

    def on_bytes(self, data: bytes) -> None:
        """Answer device-management and radio-configuration requests (SLIP messages from the host)."""
        self._buf += data
        while (end := self._buf.find(hci.END)) >= 0:
            body = bytes(self._buf[:end])
            del self._buf[: end + 1]
            parsed = hci.parse_message(body) if body else None
            if isinstance(parsed, tuple):
                self._answer((parsed[0], parsed[1]), parsed[2])

    def _answer(self, key: tuple[int, int], payload: bytes) -> None:
        if key == (hci.EP_RADIOLINK, hci.SET_CONFIG_REQ):
            self._configure(payload)
        elif key == (hci.EP_DEVMGMT, hci.GET_DEVICE_INFO_REQ):
            self.send(hci.build(hci.EP_DEVMGMT, hci.GET_DEVICE_INFO_RSP,
                                bytes([0, self.module_type, self.firmware]) + (0x12345678).to_bytes(4, "little")))
        elif key == (hci.EP_DEVMGMT, hci.PING_REQ):
            self.send(hci.build(hci.EP_DEVMGMT, hci.PING_RSP, b"\x00"))

    def _configure(self, payload: bytes) -> None:
        self.mode, self.config = payload[0], payload
        self.muted = False
        self.inits += 1
        self.send(hci.build(hci.EP_RADIOLINK, hci.SET_CONFIG_RSP, b"\x00"))

    def transmit(self, frame: bytes, rssi_dbm: int = -60) -> bool:
        """Deliver a received telegram (L first, CRCs optional); False if muted or not configured."""
        if self.muted or self.mode is None:
            return False
        message = hci.telegram_message(strip_crcs(frame), rssi_dbm)
        self.send(hci.seal(message))
        return True
