"""Integra / Aquastream (IMT v0x01 type 0x07), usually behind a radio module with a long TPL header: standard
records, ``02FD17`` flags.

Flags (wmbusmeters ``aquastream.xmq``): 0x04 low battery (18 months before end of life), 0x10 temporary alarm
(manipulation / module removed → tamper), 0x20 leakage, 0x30 (both) burst. The TPL status byte: standard bits.
"""

from __future__ import annotations

from datetime import date

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame
from decoders.model import Record

BURST_BITS = 0x30
FLAGS = AlarmBits(current={0x04: Alarm.BATTERY_LOW})


def refine(records: tuple[Record, ...], _status: int | None, alarms: set[Alarm], _history: set[Alarm]) -> None:
    """0x10 / 0x20 / both: tamper / leak / burst."""
    for r in records:
        if r.quantity == "error_flags" and not r.storage and isinstance(r.value, int):
            both = r.value & BURST_BITS
            if both == BURST_BITS:
                alarms.add(Alarm.BURST)
            elif both == 0x20:
                alarms.add(Alarm.LEAK)
            elif both == 0x10:
                alarms.add(Alarm.TAMPER)


def extract(frame: Frame) -> Fields:
    """Standard fields with the Aquastream flags."""
    f = oms_fields(frame, FLAGS)
    refine(frame.records, frame.status, f["alarms"], f["alarms_history"])
    return f


def _frame(meter_id: str, flags: int) -> bytes:
    from decoders import encoder as enc

    return enc.encode_oms(
        "IMT", meter_id, 0x01, 0x07, 0x5B, 0x00,
        [enc.volume(16.899), enc.billing_volume(6.217), enc.billing_date(date(2023, 10, 31)),
         enc.error_flags(flags), enc.battery_days(5595)],
        mode=5, key=bytes(16), long_header=True,
        link_manufacturer="IMT", link_meter_id="10049257", link_version=0x05, link_device_type=0x0E,
    )


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        Case(_frame("05933237", 0x0000).hex(), "00" * 16,
             {"meter_id": "05933237", "total_m3": 16.899, "target_m3": 6.217, "alarms": [],
              "battery_days": 5595}, note="built with our encoder"),
        Case(_frame("05933238", 0x0034).hex(), "00" * 16,
             {"meter_id": "05933238", "alarms": ["battery_low", "burst"]},
             note="built with our encoder; flags 0x34 = low battery + burst"),
        Case(_frame("05933239", 0x0010).hex(), "00" * 16,
             {"meter_id": "05933239", "alarms": ["tamper"]}, note="built with our encoder; flags 0x10"),
    )


DRIVER = Driver(
    name="aquastream",
    matches=(Match("IMT", frozenset({0x01}), frozenset({0x07, 0x06, 0x16})),),
    extract=extract,
    oms=(FLAGS, True),
    refine=refine,
    description="Integra Aquastream water meter.",
    cases=_cases,
)
