"""Legalization validity per mark type (docs/domain.md §2.2) and the expiry warnings derived from it.

Mark types:

* ``legacy`` — national mark showing the legalization year (rule up to 2018): valid through 31 Dec of
  year + 5, i.e. invalid from 1 Jan of year + 6.
* ``expiry`` — post-2018 mark showing the year (``2027``) or month and year (``03/2027``, ``2027-03``) until
  which it is valid: invalid from the day after the end of that year or month.
* ``mid`` — MID conformity mark ``M`` + two (or four) digits: re-legalization due from 1 December of
  year + 5 (M20 → invalid from 1 Dec 2025).

``first_invalid_day`` is the first day the meter may not be used for billing; ``legalization_shift_days``
moves it for the ±1-day reading of Kodeks cywilny art. 112.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import DETECTION_SCHEMA, conform

_ALIASES = {
    "legacy": "legacy",
    "legacy_year": "legacy",
    "national": "legacy",
    "national_year": "legacy",
    "expiry": "expiry",
    "validity": "expiry",
    "post2018": "expiry",
    "valid_until": "expiry",
    "mid": "mid",
    "m": "mid",
}


def _year(text: str) -> int:
    y = int(text)
    return 2000 + y if y < 100 else y


def _month_end_next(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1)


def first_invalid_day(
    mark_type: str | None, mark_value: str | None, legalized_on: date | None, shift_days: int = 0
) -> date | None:
    """The first day a meter's legalization is no longer valid, or None when it cannot be determined."""
    value = (mark_value or "").strip().upper()
    kind = _ALIASES.get((mark_type or "").strip().lower())
    if kind is None:
        kind = "mid" if value.startswith("M") else ("legacy" if value or legalized_on else None)
    result: date | None = None
    if kind == "mid":
        m = re.fullmatch(r"M\s*(\d{2}|\d{4})", value)
        result = date(_year(m.group(1)) + 5, 12, 1) if m else None
    elif kind == "legacy":
        year = _year(value) if value.isdigit() else (legalized_on.year if legalized_on else None)
        result = date(year + 6, 1, 1) if year else None
    elif kind == "expiry":
        result = _expiry_mark(value)
    return result + timedelta(days=shift_days) if result else None


def _expiry_mark(value: str) -> date | None:
    if re.fullmatch(r"\d{2}|\d{4}", value):
        return date(_year(value) + 1, 1, 1)
    m = re.fullmatch(r"(\d{1,2})[./-](\d{2}|\d{4})", value) or None
    if m:
        return _month_end_next(_year(m.group(2)), int(m.group(1)))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", value)
    return _month_end_next(int(m.group(1)), int(m.group(2))) if m else None


def stage(days_left: int, warn_days: tuple[int, ...]) -> int | None:
    """The warning stage a meter is in: 0 = expired, else the smallest threshold ≥ days_left, else None."""
    if days_left <= 0:
        return 0
    hits = [w for w in warn_days if days_left <= w]
    return min(hits) if hits else None


def legalization(meters: pl.DataFrame, cfg: RuleConfig, today: date) -> pl.DataFrame:
    """``legalization_due`` warnings at the configured day thresholds and ``legalization_expired``.

    Severity rises as the deadline nears (info at the widest threshold, warning, then critical at the
    narrowest); expired meters are critical and marked ``billing_valid: false``.
    """
    warn = tuple(sorted(cfg.legalization_warn_days, reverse=True))
    sev_by_stage = {
        w: ("info" if i == 0 else "critical" if i == len(warn) - 1 else "warning") for i, w in enumerate(warn)
    }
    rows = []
    for key, mtype, mval, legal_on in meters.select(
        "meter_key", "legalization_mark_type", "legalization_mark_value", "legalized_on"
    ).iter_rows():
        until = first_invalid_day(mtype, mval, legal_on, cfg.legalization_shift_days)
        if until is None:
            continue
        left = (until - today).days
        st = stage(left, warn)
        if st is None:
            continue
        expired = st == 0
        evidence = (
            f'{{"first_invalid_day":"{until}","days_left":{left},"stage":{st},'
            f'"mark":"{mval or ""}","billing_valid":{"false" if expired else "true"}}}'
        )
        rows.append(
            {
                "kind": "legalization_expired" if expired else "legalization_due",
                "meter_key": key,
                "severity": "critical" if expired else sev_by_stage[st],
                "active": True,
                "dedupe_key": f"{until}/{st}",
                "evidence": evidence,
            }
        )
    return conform(pl.DataFrame(rows, schema_overrides={"meter_key": pl.Int64}), DETECTION_SCHEMA)
