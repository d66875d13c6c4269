"""Maddalena EVO 868 radio module (MAD v0x50): standard records plus a 12-month register.

Records (wmbusmeters ``evo868.xmq`` and its tests): ``0413`` total, ``046D`` date-time, ``04FD17`` error flags
(bits not published: any bit → error, as for Maddalena meters), storage 1 and 2 volume + date = the last two
billing dates, storage 3 maximum flow with its date-time, and storages 8–19 = the month-end volumes of the last
12 months where only storage 8 carries a date (``82046C``): storage 8 + k is the month end k months before it.
The undated registers get that date here.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from decoders.drivers.base import Case, Driver, Fields, Match
from decoders.drivers.oms import oms_fields
from decoders.frame import Frame
from decoders.model import HistoryEntry

FIRST_MONTH, LAST_MONTH = 8, 19  # storages of the month register; the first one carries the reference date


def _months_before(ref: date, k: int) -> date:
    """The month end ``k`` months before the month of ``ref``."""
    n = ref.year * 12 + ref.month - 1 - k
    year, month = divmod(n, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def dated_months(history: tuple[HistoryEntry, ...]) -> tuple[HistoryEntry, ...]:
    """Give the undated month registers (storages 9–19) their month-end dates from storage 8's date."""
    ref = next((h.date for h in history if h.storage == FIRST_MONTH and h.date is not None), None)
    if ref is None:
        return history
    return tuple(
        h._replace(date=_months_before(ref, h.storage - FIRST_MONTH))
        if FIRST_MONTH < h.storage <= LAST_MONTH and h.date is None
        else h
        for h in history
    )


def extract(frame: Frame) -> Fields:
    """Standard fields; the month register dated."""
    f = oms_fields(frame)
    f["history"] = dated_months(f["history"])
    return f


_MONTHS = [33.658, 32.446, 31.514, 30.315, 28.714, 27.373, 26.895, 26.707, 26.478, 26.094, 25.648, 25.296]

def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    from decoders import encoder as enc

    _CASE = enc.encode_oms(
        "MAD", "21031894", 0x50, 0x16, 0x39, 0x00,
        [
            enc.volume(34.134),
            enc.date_time(datetime(2026, 12, 11, 20, 10)),
            enc.error_flags(0, nbytes=4),
            enc.billing_volume(25.296),
            enc.billing_date(date(2025, 12, 31)),
            enc.billing_volume(33.658, storage=2),
            enc.billing_date(date(2026, 11, 30), storage=2),
            enc.billing_date(date(2026, 11, 30), storage=8),
            *(enc.volume(v, storage=8 + k) for k, v in enumerate(_MONTHS)),
        ],
        cfg_flags=0x2000,
    )
    return (
        Case(
            _CASE.hex(),
            None,
            {
                "meter_id": "21031894",
                "total_m3": 34.134,
                "target_m3": 25.296,
                "target_date": "2025-12-31",
                "alarms": [],
                "history": (
                    (1, date(2025, 12, 31), 25.296),
                    (2, date(2026, 11, 30), 33.658),
                    *((8 + k, _months_before(date(2026, 11, 30), k), v) for k, v in enumerate(_MONTHS)),
                ),
            },
            note="built with our encoder; month registers dated from storage 8",
        ),
    )


DRIVER = Driver(
    name="evo868",
    matches=(Match("MAD", frozenset({0x50}), None),),
    extract=extract,
    description="Maddalena EVO 868 radio module (12 month-end registers).",
    cases=_cases,
)
