"""Kamstrup Multical 21 / flowIQ / KWM ("kamwater"): ELL-II AES-CTR, full (0x78) or compact (0x79) frames.

Alarms come from the info codes: ``02FF20`` (Multical 21: bit0 dry, 1 reverse, 2 leak, 3 burst; bits 4–15
are "how long ago" counters) or ``04FF23`` (flowIQ: + bit4 tamper, bit5 low battery) — fact sheet §4.2,
wmbusmeters ``kamwater.xmq``.
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame
from decoders.model import Record

INFO_CODES = AlarmBits(current={0x01: Alarm.DRY, 0x02: Alarm.REVERSE_FLOW, 0x04: Alarm.LEAK, 0x08: Alarm.BURST})
FLOWIQ_STATUS = AlarmBits(
    current={
        0x01: Alarm.DRY,
        0x02: Alarm.REVERSE_FLOW,
        0x04: Alarm.LEAK,
        0x08: Alarm.BURST,
        0x10: Alarm.TAMPER,
        0x20: Alarm.BATTERY_LOW,
    }
)
# "Was active in the last 30 days" counters (3 bits each) → history.
_HISTORY = AlarmBits(history={0x0070: Alarm.DRY, 0x0380: Alarm.REVERSE_FLOW, 0x1C00: Alarm.LEAK, 0xE000: Alarm.BURST})


def refine(records: tuple[Record, ...], _status: int | None, alarms: set[Alarm], history: set[Alarm]) -> None:
    """Info-code alarms on top of the standard fields."""
    for r in records:
        if not isinstance(r.value, int):
            continue
        if r.key == "02ff20":
            INFO_CODES.apply(r.value, alarms, history)
            _HISTORY.apply(r.value, alarms, history)
        elif r.key == "04ff23":
            FLOWIQ_STATUS.apply(r.value, alarms, history)


def extract(frame: Frame) -> Fields:
    """Standard volumes plus info-code alarms."""
    f = oms_fields(frame, error_flags=None, use_status=False)
    refine(frame.records, frame.status, f["alarms"], f["alarms_history"])
    return f


DRIVER = Driver(
    name="kamwater",
    matches=(
        Match("KAM", None, frozenset({0x06, 0x07, 0x16, 0x15})),
        Match("KAW", None, frozenset({0x06, 0x07, 0x16, 0x15})),
    ),
    extract=extract,
    description="Kamstrup Multical 21 / flowIQ water meters.",
    oms=(None, False),
    refine=refine,
    cases=(
        # Fact sheet V6 (wmbusmeters simulations/serial_aes.msg): compact-capable Multical 21, full frame.
        Case(
            "2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24",
            "28F64A24988064A079AA2C807D6102AE",
            {"meter_id": "76348799", "total_m3": 6.408, "target_m3": 6.408, "alarms": ["dry"]},
        ),
        # Fact sheet V5 (jMBus test vector).
        Case(
            "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846",
            "4E5508544202058100DFEFA06B0934A5",
            {"meter_id": "63452869", "total_m3": 474.24, "target_m3": 473.247, "alarms": []},
        ),
    ),
)
