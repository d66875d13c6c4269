"""RC1180-MBUS3 simulator over a pty: config mode (0x00 → ``>``, ``M`` NVM writes, ``X``); data mode frames."""

from __future__ import annotations

from hardware import rc1180
from hardware.dll import strip_crcs
from hardware.sim.base import PtySimulator


class Rc1180Simulator(PtySimulator):
    """A simulated RC1180-MBUS3 module."""

    def __init__(self) -> None:
        super().__init__()
        self.nvm: dict[int, int] = {rc1180.NVM_MBUS_MODE: 1, rc1180.NVM_RSSI_MODE: 0}
        self.config_mode = False
        self._pending = bytearray()
        self._writing = False

    def on_bytes(self, data: bytes) -> None:
        """Follow the config-mode protocol byte by byte."""
        for byte in data:
            self._byte(byte)

    def _byte(self, byte: int) -> None:
        if not self.config_mode:
            if byte == 0x00:
                self.config_mode = True
                self.send(b">")
            return
        if self._writing:
            self._pending.append(byte)
            if len(self._pending) % 2 == 1 and byte == 0xFF:
                pairs = self._pending[:-1]
                self.nvm.update({pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)})
                self._pending.clear()
                self._writing = False
                self.send(b">")
        elif byte == ord("M"):
            self._writing = True
        elif byte == ord("X"):
            self.config_mode, self.muted = False, False
            self.inits += 1
        elif byte in b"SQG0":
            self.send(b">")

    def packet(self, frame: bytes, rssi_dbm: float = -60.0) -> bytes:
        """Data-mode bytes for ``frame``: L C … [RSSI], L counting the RSSI byte."""
        body = strip_crcs(frame)[1:]
        if self.nvm.get(rc1180.NVM_RSSI_MODE):
            body += bytes([rc1180.rssi_raw(rssi_dbm)])
        return bytes([len(body)]) + body

    def transmit(self, frame: bytes, rssi_dbm: float = -60.0) -> bool:
        """Deliver a telegram; False if muted or in config mode."""
        if self.muted or self.config_mode:
            return False
        self.send(self.packet(frame, rssi_dbm))
        return True
