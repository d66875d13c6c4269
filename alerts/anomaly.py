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
    year = timedelta(days=365)
    in_cur = now_l - p < _T
    in_recent = (now_l - p * (1 + n_rec) < _T) & ~in_cur
    in_ly = (now_l - year - p < _T) & (now_l - year >= _T)
    d = pl.col("delta_m3").clip(lower_bound=0).fill_null(0)
    rows = iv.filter(pl.col("same") & (now_l >= _T) & ((now_l - p * (1 + n_rec) < _T) | in_ly))
    per_meter = rows.group_by("meter_key").agg(
        d.filter(in_cur).sum().alias("cur"),
        d.filter(in_recent).sum().alias("recent"),
        d.filter(in_ly).sum().alias("ly"),
        _T.filter(in_recent).min().alias("recent_first"),
        _T.filter(in_ly).min().alias("ly_first"),
        _T.max().alias("last_at"),
    )
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
