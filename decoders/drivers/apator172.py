"""Apator AT-WMBUS-17-2 ("apator172", APT v4 type 0x11) and AT-WMBUS-08 ("apator08").

CI 0xA0, unencrypted; the first 4 payload bytes (LE) are a counter. apator172 counts thirds of a m³,
apator08 thirds of a litre (fact sheet §4.1; wmbusmeters ``apator172.xmq``, ``apator08.xmq``).
"""

from __future__ import annotations

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.errors import DriverError
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Total = counter / 3 m³."""
    if len(frame.payload) < 4:
        raise DriverError("apator172: payload shorter than the 4-byte counter")
    counter = int.from_bytes(frame.payload[:4], "little")
    return {"total_m3": counter / 3, "device_type": 0x07}


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Built by hand from the documented layout: counter 3000 → 1000 m³.
        Case(
            "16441486785634120411A0B80B00000000000000000000",
            None,
            {"meter_id": "12345678", "manufacturer": "APT", "total_m3": 1000.0},
        ),
    )


DRIVER = Driver(
    name="apator172",
    matches=(Match("APT", frozenset({0x04}), frozenset({0x11})),),
    extract=extract,
    cis=frozenset({0xA0}),
    description="Apator AT-WMBUS-17-2: proprietary counter in thirds of a cubic metre.",
    cases=_cases,
)
