"""Legalization validity of a water meter from its mark (domain notes §2.2); pure functions, no SQL.

Mark types stored in ``meters.legalization_mark_type``:

* ``national_year`` — pre-2018 national mark showing the **year of legalization** (``"15"`` or ``"2015"``).
  Valid 5 years counted from 1 January of the following year: 2015 → valid through 2020-12-31.
* ``expiry`` — the post-2018 mark showing the **year, or month and year, until which it is valid**
  (``"2027"``, ``"03.2027"``, ``"2027-03"``): valid through the end of that year or month.
* ``mid`` — MID conformity marking ``"M20"``: re-legalization due from 1 December of the marked year + 5,
  i.e. valid through 30 November (``mid_end="nov30"``) — or through 1 December under the other reading of
  art. 112 KC (``mid_end="dec1"``); the ±1 day is configurable, as the notes advise.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Literal

MARK_TYPES = ("national_year", "expiry", "mid")
VALIDITY_YEARS = 5
_MONTH_YEAR = re.compile(r"^(\d{1,2})[./-](\d{4})$|^(\d{4})-(\d{1,2})$")


def _year(text: str) -> int:
    if not text.isdigit() or len(text) not in (2, 4):
        raise ValueError(f"expected a 2- or 4-digit year, got {text!r}")
    value = int(text)
    return value + 2000 if len(text) == 2 else value


def valid_until(mark_type: str, mark_value: str, *, mid_end: Literal["nov30", "dec1"] = "nov30") -> date:
    """The last day a meter with this mark may be used for billing; ``ValueError`` on a malformed mark."""
    value = mark_value.strip().upper()
    if mark_type == "national_year":
        return date(_year(value) + VALIDITY_YEARS, 12, 31)
    if mark_type == "expiry":
        match = _MONTH_YEAR.match(value)
        if match:
            month, year = (int(match.group(1)), int(match.group(2))) if match.group(1) else (
                int(match.group(4)), int(match.group(3)))
            if not 1 <= month <= 12:
                raise ValueError(f"month out of range in expiry mark {mark_value!r}")
            return date(year, month, calendar.monthrange(year, month)[1])
        return date(_year(value), 12, 31)
    if mark_type == "mid":
        if not (value.startswith("M") and len(value) == 3 and value[1:].isdigit()):
            raise ValueError(f"MID mark must look like M21, got {mark_value!r}")
        year = 2000 + int(value[1:]) + VALIDITY_YEARS
        return date(year, 12, 1) if mid_end == "dec1" else date(year, 11, 30)
    raise ValueError(f"unknown legalization mark type {mark_type!r} (one of {', '.join(MARK_TYPES)})")
