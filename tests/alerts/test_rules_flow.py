"""Continuous-flow leak, night flow and burst rules on exact synthetic series."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
from alerts_synth import T0, frame, household, series

from alerts.config import RuleConfig
from alerts.frames import prepare
from alerts.rules_flow import burst, continuous_flow, night_flow

CFG = RuleConfig()


def _leak(iv_df: pl.DataFrame, cfg: RuleConfig = CFG) -> pl.DataFrame:
    return continuous_flow(prepare(iv_df, cfg), cfg)


def test_continuous_flow_three_days_raises_one_active_episode() -> None:
    det = _leak(series(1, [u + 0.2 for u in household(3)]))
    assert det.height == 1
    row = det.row(0, named=True)
    assert (row["kind"], row["meter_key"], row["active"], row["severity"]) == ("continuous_flow", 1, True, "critical")
    assert row["started_at"] == T0
    assert json.loads(row["evidence"])["min_flow_m3h"] == 0.2


def test_household_with_zero_hours_is_not_a_leak() -> None:
    assert _leak(series(1, household(10))).height == 0


def test_23_hours_of_flow_is_not_a_leak_but_24_is() -> None:
    assert _leak(series(1, [0.0] + [0.01] * 23 + [0.0])).height == 0
    det = _leak(series(1, [0.0] + [0.01] * 24 + [0.0]))
    assert det.height == 1 and det["severity"][0] == "info" and not det["active"][0]


def test_gap_in_data_breaks_the_window() -> None:
    before = series(1, [0.01] * 20)
    after = series(1, [0.01] * 20, start=T0 + timedelta(hours=23), total0=before["total_m3"][-1] + 0.05)
    assert _leak(frame(before, after)).height == 0


def test_clears_only_after_the_configured_clean_period() -> None:
    use = [0.03] * 30 + [0.0] + [0.03] * 5
    assert not _leak(series(1, use))["active"][0]
    strict = RuleConfig(leak_clear_zero_intervals=3)
    assert _leak(series(1, use), strict)["active"][0]
    assert not _leak(series(1, use + [0.0] * 3), strict)["active"][0]


def test_quarter_hour_data_needs_a_zero_quarter_hour() -> None:
    with_zero = ([0.005] * 47 + [0.0]) * 3
    assert _leak(series(1, with_zero, step_min=15)).height == 0
    assert _leak(series(1, [0.005] * 100, step_min=15)).height == 1


def _nights(use: list[float], cfg: RuleConfig = CFG, start: datetime = T0) -> pl.DataFrame:
    return night_flow(prepare(series(1, use, start=start), cfg), None, cfg)


def _with_night_leak(days: int, from_day: int, to_day: int | None = None, rate: float = 0.02) -> list[float]:
    use = household(days)
    for i in range(len(use)):
        if from_day * 24 <= i < (to_day or days) * 24:
            use[i] += rate
    return use


def test_night_leak_against_a_clean_baseline() -> None:
    det = _nights(_with_night_leak(20, 12))
    assert det.height == 1
    row = det.row(0, named=True)
    assert row["active"] and row["kind"] == "night_flow"
    ev = json.loads(row["evidence"])
    assert ev["first_night"] == "2025-01-18" and ev["baseline_m3h"] == 0.0


def test_dishwasher_at_three_is_not_a_leak() -> None:
    assert _nights(household(20, night_use={3: 0.8})).height == 0


def test_one_restless_night_is_not_a_leak() -> None:
    use = household(20)
    use[10 * 24 + 1] = use[10 * 24 + 2] = 0.05  # 02–04 local on one night only
    assert _nights(use).height == 0


def test_steady_night_use_becomes_the_baseline() -> None:
    use = household(30, night_use={2: 0.01, 3: 0.02})
    det = _nights(use)  # before a baseline exists only the absolute threshold applies
    assert det.height == 1 and not det["active"][0]


def test_night_leak_clears_after_two_clean_nights() -> None:
    one_clean = _nights(_with_night_leak(20, 12, 17)[: 18 * 24])
    assert one_clean["active"].to_list() == [True]
    two_clean = _nights(_with_night_leak(20, 12, 17))
    assert two_clean["active"].to_list() == [False]


def test_night_flow_across_dst_changes() -> None:
    for start in (datetime(2025, 3, 20, tzinfo=UTC), datetime(2025, 10, 16, tzinfo=UTC)):
        assert _nights(household(20), start=start).height == 0
        use = [u + 0.02 if i >= 8 * 24 else u for i, u in enumerate(household(20))]
        det = _nights(use, start=start)
        assert det.height == 1 and det["active"][0], start


def test_burst_from_hourly_intervals_uses_the_meters_q3() -> None:
    use = household(2)
    use[30] = 0.6
    meters = pl.DataFrame({"meter_key": [1], "q3_m3h": [2.5]})
    assert burst(prepare(series(1, use), CFG), meters, CFG).height == 0  # 0.6 < 0.3 × 2.5
    small = pl.DataFrame({"meter_key": [1], "q3_m3h": [1.6]})
    det = burst(prepare(series(1, use), CFG), small, CFG)
    assert det.height == 1 and det["severity"][0] == "critical" and not det["active"][0]


def test_burst_from_reported_flow_needs_thirty_minutes() -> None:
    for n_high, expected in ((3, 0), (4, 1)):
        flow = [0.0] * 3 + [1.2] * n_high + [0.0] * 3
        df = series(1, [0.0] * (len(flow) - 1), step_min=10, flow_m3h=flow)
        assert burst(prepare(df, CFG), None, CFG).height == expected


def test_burst_still_running_is_active() -> None:
    use = [*household(1), 1.5, 1.5]
    assert burst(prepare(series(1, use), CFG), None, CFG)["active"].to_list() == [True]
