"""Register rules: reverse flow, stuck meter, silent meter, and the meters' own alarm flags (debounced)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import DETECTION_SCHEMA, conform, detections, json_evidence, positions, rows_of
from core.schemas import UTC_US
from core.types import ALARM_BITS, Alarm

_T = pl.col("measured_at")
_NEVER = -(2**62)  # "no progress yet" marker carried forward from a meter's first row
_FLAG_SEVERITY = {
    "leak": "warning",
    "burst": "critical",
    "dry": "warning",
    "tamper": "critical",
    "magnetic": "critical",
    "removed": "critical",
    "battery_low": "info",
    "blocked": "warning",
    "error": "warning",
}


def reverse_flow(iv: pl.DataFrame, cfg: RuleConfig, now: datetime) -> pl.DataFrame:
    """Falling register, growing backward register, or the meter's REVERSE_FLOW flag.

    A register that restarts near zero (``reset``, e.g. a replaced meter) is not a fall. Events closer
    than ``reverse_active_h`` form one episode; it is active while its last event is that recent.
    """
    bit = ALARM_BITS[Alarm.REVERSE_FLOW]
    back = pl.col("backward_m3") - pl.col("backward_m3").shift(1)
    back_m3 = pl.when(pl.col("same")).then(back).fill_null(0.0)
    hit = (
        (pl.col("delta_m3") <= -cfg.reverse_min_m3) | (back_m3 >= cfg.reverse_min_m3) | ((pl.col("alarms") & bit) != 0)
    )
    # positions first, then only those rows (and their predecessors) are gathered: no full-size columns
    idx = positions(iv, hit)
    prev = iv.get_column("backward_m3").gather((idx - 1).clip(lower_bound=0))
    ev = iv.select(pl.all().gather(idx)).with_columns(
        pl.when(pl.col("same")).then(pl.col("backward_m3") - prev).fill_null(0.0).alias("back_m3")
    )
    if ev.height == 0:
        return conform(pl.DataFrame(), DETECTION_SCHEMA).clear()
    gap = timedelta(hours=cfg.reverse_active_h)
    new_ep = (pl.col("meter_key") != pl.col("meter_key").shift(1)) | ((_T - _T.shift(1)) > gap)
    ev = ev.with_columns(
        new_ep.fill_null(True).cum_sum().alias("ep"),
        pl.max_horizontal(-pl.col("delta_m3").clip(upper_bound=0).fill_null(0), pl.col("back_m3")).alias("rev"),
    )
    eps = ev.group_by("ep").agg(
        pl.col("meter_key").first(),
        _T.min().alias("start"),
        _T.max().alias("end"),
        pl.col("rev").sum().alias("reverse_m3"),
        pl.len().alias("events"),
        ((pl.col("alarms") & bit) != 0).any().alias("flagged"),
    )
    return detections(
        eps, kind="reverse_flow", severity="warning", started=pl.col("start"), ended=pl.col("end"),
        active=pl.col("end") > pl.lit(now) - gap, dedupe_key=pl.col("start").dt.strftime("%Y-%m-%dT%H:%M"),
        evidence={
            "reverse_m3": pl.col("reverse_m3").round(4),
            "events": pl.col("events"),
            "meter_flag": pl.col("flagged"),
        },
        sort=True,
    )


def stuck(iv: pl.DataFrame, points: pl.DataFrame | None, cfg: RuleConfig, now: datetime) -> pl.DataFrame:
    """No register progress for ``stuck_days`` at an occupied service point that is not seasonal.

    ``occupied = false`` (an empty holiday house) suppresses the alert, as does a seasonal pattern: no
    consumption in the same stretch of days a year earlier either. Unknown occupancy counts as occupied.
    """
    per = _progress(iv, cfg)
    since = pl.coalesce(pl.col("moved_at"), pl.col("first_at"))
    flat = per.with_columns(since.alias("since")).filter(
        (pl.col("last_at") - pl.col("since")) >= timedelta(days=cfg.stuck_days)
    )
    flat = _with_occupancy(flat, points).filter(pl.col("occupied").fill_null(True))
    flat = flat.join(_last_year_use(rows_of(iv, flat.get_column("meter_key")), flat, cfg), on="meter_key", how="left")
    flat = flat.filter(~pl.col("seasonal").fill_null(False))
    return detections(
        flat, kind="stuck", severity="warning", started=pl.col("since"), ended=pl.col("last_at"),
        active=True, dedupe_key=pl.col("since").dt.strftime("%Y-%m-%d"),
        evidence={
            "days_without_progress": (pl.col("last_at") - pl.col("since")).dt.total_days(),
            "total_m3": pl.col("total_m3"),
            "last_year_m3": pl.col("last_year_m3").round(3),
        },
    )


def _progress(iv: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Per meter: first and last reading, last register progress and the newest total, from the meters'
    first and last rows only (the newest progress is carried forward; a meter's first row resets it)."""
    moved = pl.col("same") & (pl.col("delta_m3") > cfg.zero_m3)
    t = _T.cast(pl.Int64)
    moved_us = pl.when(moved).then(t).when(~pl.col("same")).then(_NEVER).forward_fill()
    ends = (
        iv.lazy()
        .select("meter_key", "measured_at", "total_m3", "same", "last", moved_us.alias("moved_us"))
        .filter(~pl.col("same") | pl.col("last"))
        .collect()
    )
    return ends.group_by("meter_key").agg(
        _T.max().alias("last_at"),
        _T.min().alias("first_at"),
        pl.col("moved_us")
        .filter(pl.col("last") & (pl.col("moved_us") != _NEVER))
        .first()
        .cast(UTC_US)
        .alias("moved_at"),
        pl.col("total_m3").filter(pl.col("last")).first().alias("total_m3"),
    )


def _with_occupancy(df: pl.DataFrame, points: pl.DataFrame | None) -> pl.DataFrame:
    if points is None or points.height == 0:
        return df.with_columns(
            pl.lit(None, dtype=pl.String).alias("service_point_id"), pl.lit(None, dtype=pl.Boolean).alias("occupied")
        )
    sp = points.select("meter_key", "service_point_id", "occupied").unique("meter_key", keep="last")
    return df.join(sp, on="meter_key", how="left")


def _last_year_use(iv: pl.DataFrame, flat: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Consumption in the same days one year earlier; ``seasonal`` when the data covers it and it was ~0."""
    year = timedelta(days=cfg.seasonal_lookback_days)
    win = flat.select("meter_key", (pl.col("since") - year).alias("a"), (pl.col("last_at") - year).alias("b"))
    rows = iv.filter(pl.col("meter_key").is_in(win.get_column("meter_key").implode())).join(win, on="meter_key")
    rows = rows.filter((pl.col("a") < _T) & (pl.col("b") >= _T))
    first = iv.group_by("meter_key").agg(_T.min().alias("first_seen"))
    use = rows.group_by("meter_key").agg(pl.col("delta_m3").clip(lower_bound=0).sum().alias("last_year_m3"))
    out = win.join(first, on="meter_key", how="left").join(use, on="meter_key", how="left")
    covered = pl.col("first_seen") <= pl.col("a")
    seasonal = covered & (pl.col("last_year_m3").fill_null(0) <= cfg.zero_m3 * 10)
    return out.select("meter_key", "last_year_m3", seasonal.alias("seasonal"))


def silent(last_heard: pl.DataFrame, cfg: RuleConfig, now: datetime) -> pl.DataFrame:
    """Not heard for ``silent_days_fixed`` (radio, source 0) or ``silent_days_driveby`` (source 1) days.

    ``last_heard`` has ``meter_key, source, last_at`` (see :func:`last_heard_from`); a meter's cadence is
    that of the source it was last heard by. Manual and estimated readings do not count as hearing it.
    """
    heard = last_heard.filter(pl.col("source").is_in([0, 1])).sort("meter_key", "last_at")
    per = heard.group_by("meter_key").agg(pl.col("source").last(), pl.col("last_at").last())
    limit_days = pl.when(pl.col("source") == 0).then(cfg.silent_days_fixed).otherwise(cfg.silent_days_driveby)
    age_days = (pl.lit(now) - pl.col("last_at")).dt.total_seconds() / 86400
    out = per.with_columns(age_days.alias("age"), limit_days.alias("limit")).filter(pl.col("age") > pl.col("limit"))
    return detections(
        out, kind="silent", severity="warning", started=pl.col("last_at"), ended=pl.col("last_at"),
        active=True, dedupe_key=pl.col("last_at").dt.strftime("%Y-%m-%dT%H:%M"),
        evidence={
            "last_heard_at": pl.col("last_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_silent": pl.col("age").round(1),
            "limit_days": pl.col("limit"),
            "network": pl.when(pl.col("source") == 0).then(pl.lit("fixed")).otherwise(pl.lit("drive-by")),
        },
    )


def last_heard_from(readings: pl.DataFrame) -> pl.DataFrame:
    """``meter_key, source, last_at`` computed from a readings frame (storage can also supply it).

    Sorted intervals (with ``last``, see :func:`alerts.frames.prepare`) are reduced to the rows where the
    source changes or the meter ends before grouping; other frames are grouped as they are.
    """
    lf = readings.lazy().select("meter_key", "source", "measured_at", *(["last"] if "last" in readings.columns else []))
    if "last" in readings.columns:
        src = pl.col("source")
        lf = lf.filter(pl.col("last") | (src != src.shift(-1)).fill_null(True) | src.is_null())
    return lf.group_by("meter_key", "source").agg(_T.max().alias("last_at")).collect()


def meter_flags(iv: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """The meters' own alarm flags as ``meter_<flag>`` detections, at most one per meter, kind and local day.

    ``dedupe_key`` is the local date, so an alert resolved and flagged again the same day is not raised
    twice. Active while the meter's newest reading still carries the flag.
    """
    bits = {k: ALARM_BITS[Alarm(k)] for k in cfg.flag_kinds}
    any_bit = sum(bits.values())
    idx = iv.select(pl.arg_where(((pl.col("alarms") & any_bit) != 0) | pl.col("last"))).to_series()
    rows = iv.select("meter_key", "measured_at", "alarms", "last").select(pl.all().gather(idx))
    last = rows.filter(pl.col("last")).select("meter_key", pl.col("alarms").alias("last_alarms"))
    rows = rows.filter((pl.col("alarms") & any_bit) != 0)
    day = _T.dt.convert_time_zone(cfg.timezone).dt.date()
    frames = []
    for kind, bit in bits.items():
        hit = rows.filter((pl.col("alarms") & bit) != 0)
        if hit.height == 0:
            continue
        frames.append(
            hit.group_by("meter_key", day.alias("day"))
            .agg(_T.min().alias("start"), _T.max().alias("end"), pl.len().alias("n"))
            .join(last, on="meter_key", how="left")
            .with_columns(
                pl.lit(f"meter_{kind}").alias("kind"),
                pl.lit(_FLAG_SEVERITY[kind]).alias("severity"),
                ((pl.col("last_alarms") & bit) != 0).fill_null(False).alias("active"),
            )
        )
    if not frames:
        return conform(pl.DataFrame(), DETECTION_SCHEMA).clear()
    out = pl.concat(frames)
    # only the newest day can be active
    newest = pl.col("day") == pl.col("day").max().over("meter_key", "kind")
    return conform(
        out.with_columns(
            (pl.col("active") & newest).alias("active"),
            pl.col("start").alias("started_at"),
            pl.col("end").alias("ended_at"),
            pl.col("day").cast(pl.String).alias("dedupe_key"),
            json_evidence(readings_flagged=pl.col("n"), day=pl.col("day").cast(pl.String)),
        ).sort("meter_key", "kind", "started_at"),
        DETECTION_SCHEMA,
    )
