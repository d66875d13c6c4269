"""Consumption anomaly ("my bill jumped"): the latest period far above last year or the recent average.

Consumption is summed per service point from per-meter register deltas, so a meter replaced inside a
period contributes both meters' use and the restart of the new register near zero costs nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import DETECTION_SCHEMA, attach_point, conform, json_evidence

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
    bucket = (
        pl.when(now_l - p < _T)
        .then(pl.lit("cur"))
        .when(now_l - p * (1 + n_rec) < _T)
        .then(pl.lit("recent"))
        .when((now_l - timedelta(days=365) - p < _T) & (now_l - timedelta(days=365) >= _T))
        .then(pl.lit("ly"))
    )
    use = (
        iv.filter(pl.col("same") & (now_l >= _T))
        .select(
            "meter_key",
            bucket.alias("b"),
            pl.col("delta_m3").clip(lower_bound=0).fill_null(0).alias("d"),
            _T,
        )
        .filter(pl.col("b").is_not_null())
    )
    use = attach_point(use, points)
    agg = use.group_by("series").agg(
        pl.col("d").filter(pl.col("b") == "cur").sum().alias("cur"),
        pl.col("d").filter(pl.col("b") == "recent").sum().alias("recent"),
        pl.col("d").filter(pl.col("b") == "ly").sum().alias("ly"),
        _T.filter(pl.col("b") == "recent").min().alias("recent_first"),
        _T.filter(pl.col("b") == "ly").min().alias("ly_first"),
        pl.col("meter_key").last(),
        pl.col("service_point_id").last(),
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
    return conform(
        hit.with_columns(
            pl.lit("consumption_anomaly").alias("kind"),
            pl.lit("warning").alias("severity"),
            (now_l - p).alias("started_at"),
            now_l.alias("ended_at"),
            pl.lit(True).alias("active"),
            pl.lit(f"{now:%Y-%m}").alias("dedupe_key"),
            json_evidence(
                period_m3=pl.col("cur").round(3),
                recent_avg_m3=pl.col("avg").round(3),
                last_year_m3=pl.when(ly_ok).then(pl.col("ly")).round(3),
                ratio=(pl.col("cur") / pl.col("base")).round(2),
                period_days=pl.lit(cfg.anomaly_period_days),
            ),
        ),
        DETECTION_SCHEMA,
    )
