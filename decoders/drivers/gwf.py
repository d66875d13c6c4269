"""GWF radio water meters and modules (GWF v0x3C type 0x07; radio module v0x01 type 0x0E, often in front of the
meter with a long TPL header): standard records, status in the manufacturer block after ``0F``.

Block (wmbusmeters ``gwfwater.xmq``): type byte ``01``, then a status byte (0x02 continuous flow → leak, 0x08
broken pipe → burst, 0x20 battery low, 0x40 backflow → reverse flow) and a byte whose bit 0 is the power-saving
mode and bits 7–3 the remaining battery life in half-years. Another type byte means an unknown layout: nothing
is read from it. The TPL status byte is read with the standard bits.
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame

BLOCK_TYPE = 0x01
STATUS = AlarmBits(
    current={0x02: Alarm.LEAK, 0x08: Alarm.BURST, 0x20: Alarm.BATTERY_LOW, 0x40: Alarm.REVERSE_FLOW}
)


def extract(frame: Frame) -> Fields:
    """Standard fields plus the manufacturer block's status and battery life."""
    f = oms_fields(frame, GENERIC_ERROR_FLAGS)
    block = frame.manufacturer_data or b""
    if len(block) >= 3 and block[0] == BLOCK_TYPE:
        STATUS.apply(block[1], f["alarms"], f["alarms_history"])
        f["battery_days"] = round((block[2] >> 3) / 2 * 365)
    return f


_KEY = bytes(range(16))

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "GWF", "19680750", 0x3C, 0x07, 0xB1, 0x00,
        [
            enc.record(0x03, 0x74, (1419).to_bytes(3, "little")),
            enc.volume(879.068),
            enc.billing_volume(877.476),
            b"\x0f\x01\x42\xe1",  # block type 1: leak + backflow, 28 half-years left, power saving
        ],
        mode=5, key=_KEY, long_header=True,
        link_manufacturer="GWF", link_meter_id="10154446", link_version=0x01, link_device_type=0x0E,
    )
    _OK = enc.encode_oms(
        "GWF", "20221031", 0x3C, 0x07, 0xBE, 0x00, [enc.volume(0.062), b"\x0f\x02\x00\xe3"], mode=5, key=_KEY
    )
    return (
        Case(
            _CASE.hex(),
            _KEY.hex(),
            {"meter_id": "19680750", "link_meter_id": "10154446", "total_m3": 879.068, "target_m3": 877.476,
             "alarms": ["leak", "reverse_flow"], "battery_days": 5110},
            note="built with our encoder; radio module in front (long header), block status 0x42",
        ),
        Case(
            _OK.hex(),
            _KEY.hex(),
            {"meter_id": "20221031", "total_m3": 0.062, "alarms": [], "battery_days": None},
            note="built with our encoder; block of unknown type 2 is not read",
        ),
    )


DRIVER = Driver(
    name="gwfwater",
    matches=(Match("GWF", frozenset({0x3C, 0x01}), frozenset({0x07, 0x0E, 0x06, 0x16})),),
    extract=extract,
    description="GWF water meters (status and battery in the manufacturer block).",
    cases=_cases,
)
