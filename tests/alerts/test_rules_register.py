"""Reverse flow, stuck, silent and meter-flag rules, incl. meter replacement and the holiday house."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
from alerts_synth import T0, frame, household, series

from alerts.config import RuleConfig
from alerts.frames import prepare
from alerts.rules_register import last_heard_from, meter_flags, reverse_flow, silent, stuck
from core.types import ALARM_BITS, Alarm

CFG = RuleConfig()


def _reverse(df: pl.DataFrame) -> pl.DataFrame:
    iv = prepare(df, CFG)
    return reverse_flow(iv, CFG, iv["measured_at"].max())


def test_falling_register_is_reverse_flow() -> None:
    use = household(2)
    use[-3] = -0.05
    det = _reverse(series(1, use))
    assert det.height == 1 and det["active"][0]
    assert json.loads(det["evidence"][0])["reverse_m3"] == 0.05


def test_growing_backward_register_and_meter_flag_are_reverse_flow() -> None:
    use = household(2)
    back = [0.0] * 30 + [0.02] * (len(use) - 29)
    assert _reverse(series(1, use, backward_m3=back)).height == 1
    flags = [0] * (len(use) + 1)
    flags[5] = ALARM_BITS[Alarm.REVERSE_FLOW]
    det = _reverse(series(1, use, alarms=flags))
    assert det.height == 1 and not det["active"][0]  # more than 24 h ago
    assert json.loads(det["evidence"][0])["meter_flag"] is True


def test_meter_replacement_is_not_reverse_flow() -> None:
    old = series(1, household(1), total0=812.4)
    same_key = series(1, household(1), start=T0 + timedelta(hours=25), total0=0.004)
    assert _reverse(frame(old, same_key)).height == 0
    new_key = series(2, household(1), start=T0 + timedelta(hours=25), total0=0.004)
    assert _reverse(frame(old, new_key)).height == 0


def test_small_jitter_below_threshold_is_ignored() -> None:
    use = household(1)
    use[5] = -0.002
    assert _reverse(series(1, use)).height == 0


def _points(occupied: bool | None, meter: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {"meter_key": [meter], "service_point_id": ["SP1"], "area": ["A"], "occupied": [occupied]},
        schema_overrides={"occupied": pl.Boolean},
    )


def _stuck(df: pl.DataFrame, points: pl.DataFrame | None = None) -> pl.DataFrame:
    iv = prepare(df, CFG)
    return stuck(iv, points, CFG, iv["measured_at"].max())


def test_flat_register_for_four_weeks_at_occupied_point_is_stuck() -> None:
    df = series(1, household(10) + [0.0] * 24 * 30)
    det = _stuck(df, _points(True))
    assert det.height == 1 and det["active"][0]
    assert json.loads(det["evidence"][0])["days_without_progress"] == 30


def test_three_weeks_flat_is_not_stuck() -> None:
    assert _stuck(series(1, household(10) + [0.0] * 24 * 21), _points(True)).height == 0


def test_empty_holiday_house_is_not_stuck() -> None:
    df = series(1, household(10) + [0.0] * 24 * 30)
    assert _stuck(df, _points(False)).height == 0
    assert _stuck(df, None).height == 1  # unknown occupancy counts as occupied


def test_seasonal_house_empty_the_same_weeks_last_year_is_not_stuck() -> None:
    last_year = household(300) + [0.0] * 24 * 35 + household(30)  # 365 days, empty days 300–334
    this_year = household(300) + [0.0] * 24 * 35  # empty again for the same 35 days
    assert _stuck(series(1, last_year + this_year), _points(True)).height == 0
    busy_last_year = series(1, household(365) + this_year)
    assert _stuck(busy_last_year, _points(True)).height == 1


def test_silent_thresholds_differ_for_fixed_and_drive_by_meters() -> None:
    fixed = series(1, household(1), source=0)
    driveby = series(2, [0.3], start=T0, source=1, step_min=60 * 24)
    heard = last_heard_from(frame(fixed, driveby))
    now = T0 + timedelta(days=4)
    det = silent(heard, CFG, now)
    assert det["meter_key"].to_list() == [1]
    assert json.loads(det["evidence"][0])["network"] == "fixed"
    det = silent(heard, CFG, T0 + timedelta(days=80))
    assert sorted(det["meter_key"].to_list()) == [1, 2]


def test_manual_readings_do_not_count_as_heard() -> None:
    radio = series(1, household(1), source=0)
    manual = series(1, [0.1], start=T0 + timedelta(days=5), source=2)
    det = silent(last_heard_from(frame(radio, manual)), CFG, T0 + timedelta(days=6))
    assert det["meter_key"].to_list() == [1]


def test_meter_flags_are_debounced_per_local_day() -> None:
    n = 24 * 3 + 1
    flags = [0] * n
    tamper, battery = ALARM_BITS[Alarm.TAMPER], ALARM_BITS[Alarm.BATTERY_LOW]
    for i in (2, 3, 4, 30):  # day 1 three times, day 2 once
        flags[i] = tamper
    flags[-1] = battery | ALARM_BITS[Alarm.REVERSE_FLOW]
    det = meter_flags(prepare(series(1, [0.01] * (n - 1), alarms=flags), CFG), CFG)
    tam = det.filter(pl.col("kind") == "meter_tamper")
    assert tam["dedupe_key"].to_list() == ["2025-01-06", "2025-01-07"]
    assert tam["active"].to_list() == [False, False]
    assert json.loads(tam["evidence"][0])["readings_flagged"] == 3
    bat = det.filter(pl.col("kind") == "meter_battery_low")
    assert bat["active"].to_list() == [True] and bat["severity"][0] == "info"
    assert "meter_reverse_flow" not in det["kind"].to_list()  # the reverse-flow rule owns that flag
