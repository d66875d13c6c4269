"""Apator AT-WMBUS-16-2 ("apator162"): mode 5, proprietary tag/length fields after 2F2F.

Payload (fact sheet §4.1, wmbusmeters ``apator162.xmq``): one lead byte (0x0F or 0x80), 7 status bytes, then
fields ``tag + fixed length``; tag 0x10 + 4 bytes LE = total volume in litres; ``FF`` padding; 2–4 checksum
bytes. The field-length table below is data from that grammar.

History: tags 0x71–0x7C carry one byte (meaning not published) and then ``tag − 0x6F`` volumes (4 LE, litres)
— the month-end register, newest first (the 12-month register is tag 0x7B/0x7C; successive values fall month by
month below the total in the public telegrams). They become ``history`` entries numbered 1 (latest month end)
onwards, undated: the payload has no date for them.
"""

from __future__ import annotations

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.errors import DriverError
from decoders.frame import Frame
from decoders.model import HistoryEntry

_FIXED = {
    0x00: 4,
    0x01: 3,
    0x10: 4,
    0x11: 2,
    0x40: 6,
    0x41: 2,
    0x42: 4,
    0x43: 2,
    0x44: 3,
    0x8A: 9,
    0x8B: 6,
    0x8C: 6,
    0x8E: 7,
    0xA0: 4,
    0xA1: 4,
    0xA2: 1,
    0xA3: 7,
    0xA4: 4,
    0xA5: 1,
    0xA6: 3,
    0xA9: 1,
    0xAF: 1,
    0xB0: 5,
    0xB1: 8,
    0xB2: 16,
    0xB3: 8,
    0xB4: 2,
    0xB5: 16,
    0xF0: 4,
}
_FIXED |= {t: 1 + 4 * (t - 0x70 + 1) for t in range(0x71, 0x7D)}
_FIXED |= {t: 10 for t in (0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87)}
_FIXED |= {t: 11 for t in (0x85, 0x88, 0x8F)}
_FIXED |= {t: 2 for t in (0xA7, 0xA8, 0xAA, 0xAB, 0xAC, 0xAD)}
_FIXED |= {t: 3 for t in (*range(0xB6, 0xC0), *range(0xC0, 0xC8), 0xD0, 0xD3)}
TOTAL_TAG = 0x10
HISTORY_TAGS = range(0x71, 0x7D)


def fields_of(payload: bytes) -> dict[int, bytes]:
    """Walk the tag/length fields of a decrypted apator162 payload (after 2F2F)."""
    pos = 1 + 7  # lead byte, status
    found: dict[int, bytes] = {}
    end = len(payload) - 2  # checksum
    while pos < end:
        tag = payload[pos]
        if tag == 0xFF or tag not in _FIXED:
            break
        n = _FIXED[tag]
        if pos + 1 + n > len(payload):
            break
        found.setdefault(tag, payload[pos + 1 : pos + 1 + n])
        pos += 1 + n
    return found


def extract(frame: Frame) -> Fields:
    """Total volume from tag 0x10."""
    body = frame.payload[2:] if frame.payload[:2] == b"\x2f\x2f" else frame.payload
    found = fields_of(body)
    if TOTAL_TAG not in found:
        raise DriverError("apator162: no total-volume field (tag 0x10) in the payload")
    litres = int.from_bytes(found[TOTAL_TAG], "little")
    return {"total_m3": litres / 1000, "records": (), "history": month_register(found)}


def month_register(found: dict[int, bytes]) -> tuple[HistoryEntry, ...]:
    """The month-end volumes of the first history tag present (newest first) as undated entries."""
    for tag in HISTORY_TAGS:
        if tag in found:
            raw = found[tag][1:]
            return tuple(
                HistoryEntry(k + 1, None, int.from_bytes(raw[4 * k : 4 * k + 4], "little") / 1000)
                for k in range(len(raw) // 4)
            )
    return ()


_MONTHS = (50.354, 49.508, 48.563)

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "APA", "00533603", 0x05, 0x07, 0x21, 0x00,
        [
            b"\x0f" + bytes(7)  # lead byte, 7 status bytes
            + b"\x10" + (51330).to_bytes(4, "little")  # total, litres
            + b"\x72\x01" + b"".join(round(v * 1000).to_bytes(4, "little") for v in _MONTHS)
            + b"\xff\xff" + b"\x12\x34"  # padding, checksum
        ],
        mode=5, key=bytes(16),
    )
    return (
        # Fact sheet V10 (wmbusmeters simulations/serial_aes.msg), all-zero key.
        Case(
            "6e4401068888888805077a85006085bc2630713819512eb4cd87fba554fb43f67cf9654a68ee8e194088160df752e7"
            "16238292e8af1ac20986202ee561d743602466915e42f1105d9c6782a54504e4f099e65a7656b930c73a30775122d2"
            "fdf074b5035cfaa7e0050bf32faae03a77",
            "00000000000000000000000000000000",
            {"meter_id": "88888888", "manufacturer": "APA", "total_m3": 4.848},
        ),
        Case(
            _CASE.hex(),
            "00" * 16,
            {
                "meter_id": "00533603",
                "total_m3": 51.33,
                "history": tuple((k + 1, None, v) for k, v in enumerate(_MONTHS)),
            },
            note="built with our encoder; month register tag 0x72 (three month ends)",
        ),
    )


DRIVER = Driver(
    name="apator162",
    matches=(Match("APA", frozenset({0x05}), frozenset({0x06, 0x07})),),
    extract=extract,
    description="Apator AT-WMBUS-16-2 water meter (proprietary fields inside mode-5 OMS).",
    cases=_cases,
)
