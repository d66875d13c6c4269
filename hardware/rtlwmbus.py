"""rtl-wmbus (RTL-SDR software receiver) output lines, read from stdin, a FIFO or a command. Fact sheet §5.5.

One line per telegram::

    [rla;|t2a;]MODE;CRC_OK;3OUTOF6OK;TIMESTAMP;PACKET_RSSI;CURRENT_RSSI;LINK_LAYER_IDENT_NO;0x<hex L C M A CI …>

Only ``T1;1;1``, ``C1;1;1`` and ``S1;1;1`` lines are telegrams (CRCs already checked and removed; format-B L
already rewritten to format-A meaning). The RSSI columns are relative, not dBm, so ``rssi_dbm`` stays empty.
"""

from __future__ import annotations

from core.types import LinkMode
from hardware.base import Event, Fault, Heard, Reply
from hardware.lines import LineFramer, PipeDriver

MODES = {"T1": LinkMode.T1, "C1": LinkMode.C1, "S1": LinkMode.S1}


def parse_line(line: str) -> Event:
    """One rtl-wmbus output line → :class:`Heard`, a CRC/framing :class:`Fault`, or a :class:`Reply`."""
    cols = line.split(";")
    if cols and cols[0] in ("rla", "t2a"):
        cols = cols[1:]
    if len(cols) != 8 or cols[0] not in MODES:
        return Reply(line, line.encode())
    if cols[1] != "1" or cols[2] != "1":
        return Fault("crc", f"rtl-wmbus {cols[0]} CRC/3of6 check failed")
    hexdata = cols[7].removeprefix("0x")
    try:
        frame = bytes.fromhex(hexdata)
    except ValueError:
        return Fault("framing", "rtl-wmbus data is not hex")
    if len(frame) < 11 or frame[0] != len(frame) - 1:
        return Fault("framing", f"rtl-wmbus frame length {len(frame)} vs L={frame[:1].hex()}")
    return Heard(frame, None, MODES[cols[0]])


def RtlWmbusFramer() -> LineFramer:
    """A fresh pure framer for rtlwmbus output lines."""
    return LineFramer(parse_line)


class RtlWmbusDriver(PipeDriver):
    """rtlwmbus as a read-only source."""

    name = "rtlwmbus"
    parse_line = staticmethod(parse_line)
