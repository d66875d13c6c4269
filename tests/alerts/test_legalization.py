"""Legalization validity per mark type and the 180/90/30-day warnings."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from alerts.config import RuleConfig
from alerts.legalization import first_invalid_day, legalization, stage


@pytest.mark.parametrize(
    ("mark_type", "value", "legalized_on", "expected"),
    [
        ("mid", "M20", None, date(2025, 12, 1)),  # GUM example: M20 → invalid from 1 Dec 2025
        ("mid", "M2021", None, date(2026, 12, 1)),
        (None, "M19", None, date(2024, 12, 1)),  # type inferred from the value
        ("national_year", "2015", None, date(2021, 1, 1)),  # valid through 31 Dec 2020
        ("legacy", None, date(2016, 7, 14), date(2022, 1, 1)),
        ("expiry", "2027", None, date(2028, 1, 1)),
        ("expiry", "03/2027", None, date(2027, 4, 1)),
        ("expiry", "2027-12", None, date(2028, 1, 1)),
        ("expiry", "garbage", None, None),
        (None, None, None, None),
    ],
)
def test_first_invalid_day_per_mark_type(mark_type, value, legalized_on, expected) -> None:
    assert first_invalid_day(mark_type, value, legalized_on) == expected


def test_one_day_reading_is_configurable() -> None:
    assert first_invalid_day("mid", "M20", None, shift_days=-1) == date(2025, 11, 30)


def test_stages() -> None:
    warn = (180, 90, 30)
    assert [stage(d, warn) for d in (400, 180, 91, 90, 31, 30, 1, 0, -5)] == [None, 180, 180, 90, 90, 30, 30, 0, 0]


def _meters() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "meter_key": [1, 2, 3, 4, 5],
            "legalization_mark_type": ["mid", "mid", "expiry", "national_year", None],
            "legalization_mark_value": ["M20", "M21", "04/2026", "2018", None],
            "legalized_on": [None, None, None, None, None],
        },
        schema_overrides={"legalized_on": pl.Date},
    )


def test_warnings_and_expired_state() -> None:
    det = legalization(_meters(), RuleConfig(), date(2025, 12, 1)).sort("meter_key")
    by_meter = {r["meter_key"]: r for r in det.iter_rows(named=True)}
    assert by_meter[1]["kind"] == "legalization_expired" and by_meter[1]["severity"] == "critical"
    assert json.loads(by_meter[1]["evidence"])["billing_valid"] is False
    assert 2 not in by_meter  # M21: 365 days left
    assert by_meter[3]["kind"] == "legalization_due"
    ev3 = json.loads(by_meter[3]["evidence"])
    assert (ev3["days_left"], ev3["stage"], by_meter[3]["severity"]) == (151, 180, "info")
    assert by_meter[4]["kind"] == "legalization_expired"  # national 2018 → valid through 31 Dec 2023
    assert 5 not in by_meter  # no mark, nothing to say


def test_day_before_and_day_of_mid_expiry() -> None:
    meters = _meters().head(1)
    before = legalization(meters, RuleConfig(), date(2025, 11, 30))
    assert before["kind"].to_list() == ["legalization_due"]
    assert before["severity"].to_list() == ["critical"]  # inside the 30-day stage
    on = legalization(meters, RuleConfig(), date(2025, 12, 1))
    assert on["kind"].to_list() == ["legalization_expired"]
