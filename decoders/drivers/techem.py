"""Techem MK Radio 3 / 3a / 4 water meters: proprietary CI 0xA2 payloads, unencrypted (fact sheet §4.9).

* MK Radio 3 (TCH v0x74): byte, previous-period date (2), previous volume (2, 0.1 m³), current date (2),
  current-period volume (2, 0.1 m³); total = previous + current.
* MK Radio 3a (TCH v0x50): 2 bytes, current date (2: day, month<<5, year<<9), total (3, 0.1 m³), then
  monthly history words; target = first history pair (wmbusmeters ``mkradio3a.xmq``).
* MK Radio 4 (TCH v0x95/0x70): 3 bytes, previous volume (2, 0.1 m³), 2 bytes, current volume (2, 0.1 m³).
"""

from __future__ import annotations

from datetime import date

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.errors import DriverError
from decoders.frame import Frame
from decoders.model import HistoryEntry


def _u(data: bytes, pos: int, n: int) -> int:
    return int.from_bytes(data[pos : pos + n], "little")


def _need(p: bytes, n: int, name: str) -> None:
    if len(p) < n:
        raise DriverError(f"{name}: payload has {len(p)} bytes, needs {n}")


def _prev_date(v: int) -> date | None:
    try:
        return date(2000 + (v >> 9), (v >> 5) & 0x0F, v & 0x1F)
    except ValueError:
        return None


def _mk3(p: bytes) -> Fields:
    _need(p, 9, "mkradio3")
    prev, curr = _u(p, 3, 2) / 10, _u(p, 7, 2) / 10
    when = _prev_date(_u(p, 1, 2))
    return {"total_m3": round(prev + curr, 1), "target_m3": prev, "target_date": when,
            "history": (HistoryEntry(1, when, prev),)}


def _mk3a(p: bytes) -> Fields:
    _need(p, 11, "mkradio3a")
    day = _u(p, 2, 2) & 0x1F
    hist0 = _u(p, 8, 2)
    lo, hi = hist0 & 0xFF, hist0 >> 8
    target = lo if day <= 15 else lo + hi
    return {"total_m3": _u(p, 4, 3) / 10, "target_m3": target / 10}


def _mk4(p: bytes) -> Fields:
    _need(p, 9, "mkradio4")
    prev, curr = _u(p, 3, 2) / 10, _u(p, 7, 2) / 10
    return {"total_m3": round(prev + curr, 1), "target_m3": prev}


def extract(frame: Frame) -> Fields:
    """Dispatch on the version byte."""
    if frame.version == 0x50:
        return _mk3a(frame.payload)
    if frame.version in (0x95, 0x70):
        return _mk4(frame.payload)
    return _mk3(frame.payload)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Our frame around the fact sheet §4.9 payload example 06 9F25 5900 B029 3100 (8.9 + 4.9 m³).
        Case(
            "15446850785634127462A2069F255900B02931000000",
            None,
            {
                "meter_id": "12345678",
                "total_m3": 13.8,
                "target_m3": 8.9,
                "target_date": "2018-12-31",
                "history": ((1, date(2018, 12, 31), 8.9),),
            },
        ),
    )


DRIVER = Driver(
    name="mkradio",
    matches=(Match("TCH", frozenset({0x74, 0x50, 0x95, 0x70}), frozenset({0x62, 0x72})),),
    extract=extract,
    cis=frozenset({0xA2}),
    description="Techem MK Radio 3/3a/4 (proprietary CI 0xA2).",
    cases=_cases,
)
