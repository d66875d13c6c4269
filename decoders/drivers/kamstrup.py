"""Kamstrup Multical 21 / flowIQ / KWM ("kamwater"): ELL-II AES-CTR, full (0x78) or compact (0x79) frames.

Alarms come from the info codes: ``02FF20`` (Multical 21: bit0 dry, 1 reverse, 2 leak, 3 burst; bits 4–15
are "how long ago" counters) or ``04FF23`` (flowIQ: + bit4 tamper, bit5 low battery) — fact sheet §4.2,
wmbusmeters ``kamwater.xmq``.
"""

from __future__ import annotations

from datetime import date

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


_KEY = bytes(range(16))

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    # Compact frames heard before any full frame: layouts of the shipped table (decoders.compact_table), values ours.
    _MC21_FULL, _MC21_COMPACT = enc.full_and_compact_apl(
        [
            enc.record(0x02, b"\xff\x20", (0x0004).to_bytes(2, "little")),  # info codes: leak now
            enc.volume(12.345),
            enc.volume(11.002, storage=1),
            enc.record(0x61, 0x5B, b"\x09"),
            enc.record(0x61, 0x67, b"\x0c"),
        ]
    )
    _FIQ_FULL, _FIQ_COMPACT = enc.full_and_compact_apl(
        [
            enc.record(0x04, b"\xff\x23", (0x0010).to_bytes(4, "little")),  # status: tamper
            enc.volume(40.1, storage=1),
            enc.record(0x52, 0x3B, (410).to_bytes(2, "little")),
            enc.record(0x06, b"\xff\x1b", bytes(6)),
            enc.billing_date(date(2026, 10, 1)),
            enc.record(0x61, 0x67, b"\x0a"),
            enc.record(0x51, 0x67, b"\x1b"),
            enc.record(0x02, 0x3B, (35).to_bytes(2, "little")),
            enc.volume(41.27),
            enc.record(0x81, bytes.fromhex("01E7FF0F"), b"\x00"),
        ]
    )
    return (
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
        Case(
            enc.encode_ell_apl("KAM", "20262026", 0x1B, 0x16, _MC21_COMPACT, key=_KEY, frame_format="B").hex(),
            _KEY.hex(),
            {"meter_id": "20262026", "total_m3": 12.345, "target_m3": 11.002, "alarms": ["leak"]},
            note="Multical 21 compact frame (signature a8ed) with no full frame before it; built with our encoder",
        ),
        Case(
            enc.encode_ell_apl("KAW", "31003100", 0x3C, 0x16, _FIQ_COMPACT, key=_KEY, frame_format="B").hex(),
            _KEY.hex(),
            {
                "meter_id": "31003100",
                "total_m3": 41.27,
                "target_m3": 40.1,
                "target_date": "2026-10-01",
                "flow_m3h": 0.035,
                "alarms": ["tamper"],
            },
            note="flowIQ 2200 compact frame (signature 0905) with no full frame before it; built with our encoder",
        ),
    )


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
    cases=_cases,
)
