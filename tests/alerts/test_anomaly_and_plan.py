"""Consumption anomaly ("my bill jumped") and the pure lifecycle plan."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
from alerts_synth import T0, frame, household, series

from alerts.anomaly import consumption_anomaly
from alerts.config import RuleConfig
from alerts.engine import evaluate
from alerts.frames import prepare
from alerts.lifecycle import OpenAlert, plan
from core.types import Severity

CFG = RuleConfig()


def _anomaly(df: pl.DataFrame, points: pl.DataFrame | None = None) -> pl.DataFrame:
    iv = prepare(df, CFG)
    return consumption_anomaly(iv, points, CFG, iv["measured_at"].max())


def test_bill_jump_against_recent_average() -> None:
    use = household(90) + household(30, day_use=0.08)  # 4× the usual daytime use
    det = _anomaly(series(1, use))
    assert det.height == 1
    ev = json.loads(det["evidence"][0])
    assert ev["ratio"] == 4.0 and ev["last_year_m3"] is None


def test_steady_use_is_not_an_anomaly() -> None:
    assert _anomaly(series(1, household(120))).height == 0


def test_not_enough_history_is_not_an_anomaly() -> None:
    assert _anomaly(series(1, household(20) + household(30, day_use=0.08))).height == 0


def test_thirsty_garden_like_last_summer_is_not_an_anomaly() -> None:
    last_year = household(335) + household(30, day_use=0.08)  # the same 30 days a year ago
    this_year = household(335) + household(30, day_use=0.08)
    assert _anomaly(series(1, last_year + this_year)).height == 0


def test_meter_replacement_inside_the_period_is_counted_per_service_point() -> None:
    old = series(1, household(100), total0=950.0)
    new = series(2, household(19), start=T0 + timedelta(days=101), total0=0.0)
    points = pl.DataFrame({"meter_key": [1, 2], "service_point_id": ["SP1", "SP1"]})
    assert _anomaly(frame(old, new), points).height == 0
    assert evaluate(frame(old, new), points=points).detections.filter(pl.col("kind") == "reverse_flow").height == 0


def _det(kind: str, meter: int, active: bool, sev: str = "warning", ended_h: int = 0, sp: str | None = None):
    return {
        "kind": kind,
        "meter_key": meter,
        "service_point_id": sp,
        "severity": sev,
        "started_at": T0,
        "ended_at": T0 + timedelta(hours=ended_h),
        "active": active,
        "dedupe_key": "k",
        "evidence": json.dumps({"x": 1}),
    }


def _plan(rows, open_alerts, since=None):
    from alerts.frames import DETECTION_SCHEMA

    df = pl.DataFrame(rows, schema=DETECTION_SCHEMA)
    kinds = ["continuous_flow", "burst", "night_flow"]
    return plan(
        df,
        open_alerts,
        ran_kinds=kinds,
        evaluated={k: {1, 2, 3} for k in kinds},
        now=T0 + timedelta(days=1),
        since=since,
    )


def test_plan_raises_new_and_keeps_open_without_duplicate() -> None:
    existing = [OpenAlert(7, "continuous_flow", "m:1", Severity.WARNING, 1)]
    p = _plan([_det("continuous_flow", 1, True), _det("continuous_flow", 2, True)], existing)
    assert [r.subject for r in p.raises] == ["m:2"] and not p.resolutions and not p.escalations


def test_plan_escalates_and_resolves() -> None:
    existing = [
        OpenAlert(7, "continuous_flow", "m:1", Severity.WARNING, 1),
        OpenAlert(8, "continuous_flow", "m:3", Severity.WARNING, 3),
        OpenAlert(9, "continuous_flow", "m:99", Severity.WARNING, 99),
    ]  # not evaluated: kept
    p = _plan([_det("continuous_flow", 1, True, "critical")], existing)
    assert [e.alert_id for e in p.escalations] == [7]
    assert [r.alert_id for r in p.resolutions] == [8]


def test_plan_records_finished_episodes_since_last_run_only() -> None:
    rows = [_det("burst", 1, False, "critical", ended_h=5)]
    assert _plan(rows, [], since=T0 + timedelta(hours=6)).raises == []
    p = _plan(rows, [], since=T0 + timedelta(hours=1))
    assert [(r.subject, r.resolved) for r in p.raises] == [("m:1", True)]


def test_service_point_kinds_use_the_point_as_subject() -> None:
    p = _plan([_det("night_flow", 1, True, sp="SP1")], [])
    assert p.raises[0].subject == "sp:SP1" and p.raises[0].alert.service_point == "SP1"
