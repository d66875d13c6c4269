"""Consumption anomaly ("my bill jumped"): the latest period far above last year or the recent average.

Consumption is summed per service point from per-meter register deltas, so a meter replaced inside a
period contributes both meters' use and the restart of the new register near zero costs nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import attach_point, detections

_T = pl.col("measured_at")


def consumption_anomaly(iv: pl.DataFrame, points: pl.DataFrame | None, cfg: RuleConfig, now: datetime) -> pl.DataFrame:
    """Compare the last ``anomaly_period_days`` with the same days a year ago and the periods before.

    The baseline is the larger of the two references that the data covers (conservative: a summer
    garden that was as thirsty last summer is not an anomaly). Raised when the period exceeds
    ``anomaly_ratio`` × baseline and the baseline by at least ``anomaly_min_excess_m3``.
    """
    p = timedelta(days=cfg.anomaly_period_days)
    now_l = pl.lit(now)
    n_rec = cfg.anomaly_recent_periods
    year = timedelta(days=365)
    windows = {  # (start, end] of each period
        "cur": (now - p, now),
        "recent": (now - p * (1 + n_rec), now - p),
        "ly": (now - year - p, now - year),
    }
    per_meter = _window_sums(iv, windows)
    # per service point: a replaced meter's old and new registers add up
    agg = (
        attach_point(per_meter, points)
        .sort("series", "last_at")
        .group_by("series", maintain_order=True)
        .agg(
            pl.col("cur", "recent", "ly").sum(),
            pl.col("recent_first", "ly_first").min(),
            pl.col("meter_key").last(),
            pl.col("service_point_id").last(),
        )
    )
    # a reference counts only if the data reaches back to (nearly) its start
    slack = timedelta(days=cfg.anomaly_period_days / 10)
    recent_ok = pl.col("recent_first") <= now_l - p * (1 + n_rec) + slack
    ly_ok = pl.col("ly_first") <= now_l - timedelta(days=365) - p + slack
    base = pl.max_horizontal(pl.when(recent_ok).then(pl.col("recent") / n_rec), pl.when(ly_ok).then(pl.col("ly")))
    agg = agg.with_columns(base.alias("base"), pl.when(recent_ok).then(pl.col("recent") / n_rec).alias("avg"))
    hit = agg.filter(
        pl.col("base").is_not_null()
        & (pl.col("cur") > pl.col("base") * cfg.anomaly_ratio)
        & ((pl.col("cur") - pl.col("base")) >= cfg.anomaly_min_excess_m3)
    )
    return detections(
        hit, kind="consumption_anomaly", severity="warning", started=now_l - p, ended=now_l,
        active=True, dedupe_key=pl.lit(f"{now:%Y-%m}"),
        evidence={
            "period_m3": pl.col("cur").round(3),
            "recent_avg_m3": pl.col("avg").round(3),
            "last_year_m3": pl.when(ly_ok).then(pl.col("ly")).round(3),
            "ratio": (pl.col("cur") / pl.col("base")).round(2),
            "period_days": pl.lit(cfg.anomaly_period_days),
        },
    )


def _window_sums(iv: pl.DataFrame, windows: dict[str, tuple[datetime, datetime]]) -> pl.DataFrame:
    """Per meter and window: consumption (clipped register deltas), first and last interval end.

    One narrow lazy query per window (simple aggregations are fast paths; predicates inside aggregations
    are not), run together; windows may overlap.
    """
    d = pl.col("delta_m3").clip(lower_bound=0).fill_null(0)
    narrow = iv.lazy().select("meter_key", "measured_at", "delta_m3", "same")
    queries = [
        narrow.filter(pl.col("same") & _T.is_between(pl.lit(a), pl.lit(b), closed="right"))
        .group_by("meter_key")
        .agg(d.sum().alias(name), _T.min().alias(f"{name}_first"), _T.max().alias(f"{name}_last"))
        for name, (a, b) in windows.items()
    ]
    frames = pl.collect_all(queries)
    out = pl.concat([f.select("meter_key") for f in frames]).unique()
    for f in frames:
        out = out.join(f, on="meter_key", how="left")
    return out.with_columns(
        pl.max_horizontal([f"{name}_last" for name in windows]).alias("last_at"),
        *[pl.col(name).fill_null(0.0) for name in windows],
    )
