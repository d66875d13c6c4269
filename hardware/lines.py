"""Line splitting shared by the text protocols (CUL, rtl-wmbus, rtl_433, NMEA)."""

from __future__ import annotations

MAX_LINE = 4096  # longer runs without a newline are garbage


class LineBuffer:
    """Accumulates bytes and yields complete lines (CR/LF stripped, decoded as ASCII, bad bytes replaced)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self.overflows = 0

    def feed(self, data: bytes) -> list[str]:
        """Complete lines contained in everything fed so far."""
        self._data += data
        *complete, rest = self._data.split(b"\n")
        self._data = bytearray(rest)
        if len(self._data) > MAX_LINE:
            self._data.clear()
            self.overflows += 1
        return [line.strip(b"\r\x00").decode("ascii", "replace") for line in complete if line.strip(b"\r\x00")]

    def pending(self) -> bool:
        """True if a partial line is buffered."""
        return bool(self._data)

    def clear(self) -> None:
        """Forget a partial line."""
        self._data.clear()
