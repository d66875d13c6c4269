"""Amber AMB8465 simulator over a pty: FWV, SERIALNO, GET/SET NVM, SET_MODE, RESET; emits CMD_DATA_IND."""

from __future__ import annotations

from hardware import amber
from hardware.base import Reply
from hardware.dll import strip_crcs
from hardware.sim.base import PtySimulator


class AmberSimulator(PtySimulator):
    """A simulated AMB8465 in command mode (``cmd_output=False`` starts it in transparent mode)."""

    def __init__(self, *, rssi_enabled: bool = True, cmd_output: bool = True) -> None:
        super().__init__()
        self._framer = amber.AmberFramer(rssi_enabled=False)
        self.nvm = {amber.NVM_UART_CMD_OUT: int(cmd_output), amber.NVM_RSSI_ENABLE: int(rssi_enabled)}
        self.mode: int | None = None
        self.resets = 0

    def on_bytes(self, data: bytes) -> None:
        """Answer host commands."""
        for event in self._framer.feed(data):
            if isinstance(event, Reply) and isinstance(event.key, int):
                self._answer(event.key, event.payload)

    def _answer(self, cmd: int, payload: bytes) -> None:
        if cmd == amber.FWV_REQ:
            self._cnf(cmd, b"\x01\x02\x03")
        elif cmd == amber.SERIALNO_REQ:
            self._cnf(cmd, bytes.fromhex("00112233"))
        elif cmd == amber.GET_REQ:
            addr = payload[0]
            self._cnf(cmd, bytes([addr, 1, self.nvm.get(addr, 0)]))
        elif cmd == amber.SET_REQ:
            self.nvm[payload[0]] = payload[2]
            self._cnf(cmd, b"\x00")
        elif cmd == amber.SET_MODE_REQ:
            self.mode, self.muted = payload[0], False
            self.inits += 1
            self._cnf(cmd, b"\x00")
        elif cmd == amber.RESET_REQ:
            self.resets += 1
            self.mode = None
            self._cnf(cmd, b"\x00")

    def _cnf(self, cmd: int, payload: bytes) -> None:
        self.send(amber.build(cmd | amber.CNF, payload))

    def indication(self, frame: bytes, rssi_dbm: float = -60.0) -> bytes:
        """The bytes the module would send for ``frame``."""
        body = strip_crcs(frame)[1:]
        if self.nvm[amber.NVM_RSSI_ENABLE]:
            body += bytes([amber.rssi_raw(rssi_dbm)])
        if self.nvm[amber.NVM_UART_CMD_OUT]:
            return amber.build(amber.DATA_IND, body)
        return bytes([len(body)]) + body  # transparent mode

    def transmit(self, frame: bytes, rssi_dbm: float = -60.0) -> bool:
        """Deliver a telegram to the host; False if muted or no mode was set."""
        if self.muted or self.mode is None:
            return False
        self.send(self.indication(frame, rssi_dbm))
        return True
