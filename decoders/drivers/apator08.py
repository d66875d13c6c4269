"""Apator AT-WMBUS-08 ("apator08", APT v3/0x0F): CI 0xA0, counter in thirds of a litre (fact sheet §4.1)."""

from __future__ import annotations

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.errors import DriverError
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Total = counter / 3 litres."""
    if len(frame.payload) < 4:
        raise DriverError("apator08: payload shorter than the 4-byte counter")
    return {"total_m3": int.from_bytes(frame.payload[:4], "little") / 3000, "device_type": 0x07}


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (Case("12441486112233440303A03075000000000000", None, {"meter_id": "44332211", "total_m3": 10.0}),)


DRIVER = Driver(
    name="apator08",
    matches=(Match("APT", frozenset({0x03, 0x0F}), frozenset({0x03, 0x0F})),),
    extract=extract,
    cis=frozenset({0xA0}),
    description="Apator AT-WMBUS-08: proprietary counter in thirds of a litre.",
    cases=_cases,
)
