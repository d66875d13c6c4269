"""culfw (nanoCUL) simulator over a pty: answers ``V``, ``X21``, ``brt``/``brs``/``brc``; emits ``b…`` lines."""

from __future__ import annotations

from hardware import cul
from hardware.dll import add_format_a_crcs, add_format_b_crcs, strip_crcs
from hardware.lines import LineBuffer
from hardware.sim.base import PtySimulator

_ANSWERS = {"brt": "TMODE", "brs": "SMODE", "brc": "CMODE"}


class CulSimulator(PtySimulator):
    """A simulated nanoCUL868 with culfw 1.67."""

    def __init__(self, *, version: str = "V 1.67 nanoCUL868") -> None:
        super().__init__()
        self.version = version
        self.mode: str | None = None
        self.report_rssi = False
        self._lines = LineBuffer()

    def on_bytes(self, data: bytes) -> None:
        """Answer text commands."""
        for line in self._lines.feed(data):
            if line == "V":
                self.send(self.version.encode() + b"\r\n")
            elif line.startswith("X"):
                self.report_rssi = bool(int(line[1:] or "0", 16) & 0x20)
            elif line in _ANSWERS:
                self.mode, self.muted = _ANSWERS[line], False
                self.inits += 1
                self.send(self.mode.encode() + b"\r\n")

    def line(self, frame: bytes, rssi_dbm: float = -60.0, *, format_b: bool = False, lqi: int = 0x30) -> bytes:
        """The text line culfw prints for ``frame`` (CRCs added as on air)."""
        plain = strip_crcs(frame)
        on_air = add_format_b_crcs(plain) if format_b else add_format_a_crcs(plain)
        trailer = bytes([lqi, cul.rssi_raw(rssi_dbm)]) if self.report_rssi else b""
        return (b"bY" if format_b else b"b") + (on_air + trailer).hex().upper().encode() + b"\r\n"

    def transmit(self, frame: bytes, rssi_dbm: float = -60.0, *, format_b: bool = False) -> bool:
        """Deliver a telegram line; False if muted or the receiver is off."""
        if self.muted or self.mode is None:
            return False
        self.send(self.line(frame, rssi_dbm, format_b=format_b))
        return True
