"""Run every rule once over frames that were passed in, timing each one.

``evaluate`` is what ``pipeline/analyze.py`` and ``benchmarks/analytics.py`` call; it never touches the
database. Input frames follow ``alerts.frames`` schemas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from alerts import rules_flow, rules_register, rules_service
from alerts.anomaly import consumption_anomaly
from alerts.config import RuleConfig
from alerts.frames import DETECTION_SCHEMA, analysis_now, conform, prepare
from alerts.legalization import legalization
from core.schemas import METERS_SCHEMA, POINTS_SCHEMA, READINGS_SCHEMA

RULES: tuple[str, ...] = (
    "continuous_flow",
    "night_flow",
    "burst",
    "reverse_flow",
    "stuck",
    "silent",
    "meter_flags",
    "legalization",
    "consumption_anomaly",
    "never_heard",
)
# rule name → the alert kinds it can raise (for auto-resolve: only kinds of rules that ran)
KINDS: dict[str, tuple[str, ...]] = {
    "meter_flags": tuple(f"meter_{k}" for k in RuleConfig().flag_kinds),
    "legalization": ("legalization_due", "legalization_expired"),
}


@dataclass
class Evaluation:
    """Detections of every rule that ran, how long each took, and the subjects each rule looked at."""

    now: datetime
    detections: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    evaluated_meters: dict[str, set[int]] = field(default_factory=dict)

    def by_rule(self, kind_prefix: str) -> pl.DataFrame:
        """Detections whose kind starts with ``kind_prefix``."""
        return self.detections.filter(pl.col("kind").str.starts_with(kind_prefix))


def kinds_of(rule: str) -> tuple[str, ...]:
    """The alert kinds ``rule`` can raise."""
    return KINDS.get(rule, (rule,))


def evaluate(
    readings: pl.DataFrame,
    *,
    meters: pl.DataFrame | None = None,
    points: pl.DataFrame | None = None,
    last_heard: pl.DataFrame | None = None,
    cfg: RuleConfig | None = None,
    now: datetime | None = None,
    rules: tuple[str, ...] = RULES,
    assume_sorted: bool = False,
) -> Evaluation:
    """Run ``rules`` over all meters at once and return every detection with per-rule timings.

    ``readings`` should be at most hourly (see :func:`to_intervals` for denser telegram streams).
    """
    cfg = cfg or RuleConfig()
    if readings.height == 0 and now is None:
        raise ValueError("no readings and no 'now' given")
    now = analysis_now(readings, now)
    t0 = time.perf_counter()
    iv = prepare(
        conform(readings, READINGS_SCHEMA) if set(readings.columns) != set(READINGS_SCHEMA) else readings,
        cfg,
        assume_sorted=assume_sorted,
    )
    ev = Evaluation(now=now, detections=pl.DataFrame(schema=DETECTION_SCHEMA), seconds={"prepare": 0.0})
    ev.seconds["prepare"] = time.perf_counter() - t0
    meters = conform(meters, METERS_SCHEMA) if meters is not None else None
    points = conform(points, POINTS_SCHEMA) if points is not None else None
    calls: dict[str, Callable[[], pl.DataFrame]] = {
        "continuous_flow": lambda: rules_flow.continuous_flow(iv, cfg),
        "night_flow": lambda: rules_flow.night_flow(iv, points, cfg),
        "burst": lambda: rules_flow.burst(iv, meters, cfg),
        "reverse_flow": lambda: rules_register.reverse_flow(iv, cfg, now),
        "stuck": lambda: rules_register.stuck(iv, points, cfg, now),
        "silent": lambda: rules_register.silent(heard(), cfg, now),
        "meter_flags": lambda: rules_register.meter_flags(iv, cfg),
        "legalization": lambda: _legalization(meters, cfg, now),
        "consumption_anomaly": lambda: consumption_anomaly(iv, points, cfg, now),
        "never_heard": lambda: rules_service.never_heard(points, meters, heard(), cfg, now),
    }

    def heard() -> pl.DataFrame:
        nonlocal last_heard
        if last_heard is None:
            last_heard = rules_register.last_heard_from(iv)
        return last_heard

    reading_meters = set(iv.filter(pl.col("last")).get_column("meter_key").to_list())
    out = []
    for rule in rules:
        t = time.perf_counter()
        out.append(conform(calls[rule](), DETECTION_SCHEMA))
        ev.seconds[rule] = time.perf_counter() - t
        if rule == "legalization":
            ev.evaluated_meters[rule] = set(meters.get_column("meter_key").to_list()) if meters is not None else set()
        elif rule == "silent":
            ev.evaluated_meters[rule] = set(heard().get_column("meter_key").to_list())
        elif rule == "never_heard":
            ev.evaluated_meters[rule] = set(points.get_column("meter_key").to_list()) if points is not None else set()
        else:
            ev.evaluated_meters[rule] = reading_meters
    ev.detections = pl.concat(out) if out else ev.detections
    return ev


def _legalization(meters: pl.DataFrame | None, cfg: RuleConfig, now: datetime) -> pl.DataFrame:
    if meters is None or meters.height == 0:
        return pl.DataFrame(schema=DETECTION_SCHEMA)
    local_today = now.astimezone(ZoneInfo(cfg.timezone)).date()
    return legalization(meters, cfg, local_today)


def to_intervals(readings: pl.DataFrame, every: str = "1h") -> pl.DataFrame:
    """Thin a dense telegram stream to the newest reading per meter and ``every`` bucket.

    Alarm bits seen anywhere in the bucket are kept (OR-ed), so a flag in a thinned-out telegram is not lost.
    """
    bucket = pl.col("measured_at").dt.truncate(every)
    return (
        readings.sort("meter_key", "measured_at")
        .group_by("meter_key", bucket.alias("_b"), maintain_order=True)
        .agg(pl.all().exclude("alarms").last(), pl.col("alarms").fill_null(0).bitwise_or())
        .drop("_b")
    )
