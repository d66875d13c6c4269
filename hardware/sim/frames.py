"""Synthetic wM-Bus frames for simulators, tests and benchmarks (L-field first, no CRCs).

Header as on air: ``L C M(2, LE) ID(4, BCD LSB first) version type CI`` then opaque bytes; the content is
not meant to decode to readings, only to be a well-formed, unique frame per ``(meter, counter)``.
"""

from __future__ import annotations

# OMS Annex N example (fact sheet §5.1), a real encrypted V1 telegram without CRCs.
OMS_EXAMPLE = bytes.fromhex(
    "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3"
)


def bcd_id(meter_id: int) -> bytes:
    """An 8-digit meter id as the 4 BCD bytes of the A-field (LSB first)."""
    digits = f"{meter_id:08d}"
    return bytes(int(digits[i : i + 2], 16) for i in range(6, -1, -2))


def synthetic_frame(meter_id: int, counter: int = 0, *, size: int = 40, manufacturer: bytes = b"\x2d\x2c",
                    version: int = 0x1B, device_type: int = 0x16) -> bytes:
    """A unique frame for ``(meter_id, counter)``: ``size`` bytes after L (≥ 16)."""
    header = bytes([0x44]) + manufacturer + bcd_id(meter_id) + bytes([version, device_type, 0x7A])
    body = bytes([counter & 0xFF, 0, 0, 0]) + counter.to_bytes(4, "little")
    pad = bytes((meter_id + i) & 0xFF for i in range(max(0, size - len(header) - len(body))))
    data = header + body + pad
    return bytes([len(data)]) + data
