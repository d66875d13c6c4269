"""Flow rules: continuous-flow leak, minimum night flow against the service point's baseline, burst.

Each rule takes prepared intervals (:func:`alerts.frames.prepare`) and returns detections with
``DETECTION_SCHEMA``: one row per episode, ``active`` when the condition still holds at the end of data.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import (
    DETECTION_SCHEMA,
    attach_point,
    conform,
    detections,
    hour_of,
    interval_hours,
    interval_rate,
    local_us,
    mask_of,
    positions,
    rows_of,
    run_start,
)

_T = pl.col("measured_at")
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


def _severity_by_flow(rate: pl.Expr, cfg: RuleConfig) -> pl.Expr:
    return (
        pl.when(rate >= cfg.leak_critical_m3h)
        .then(pl.lit("critical"))
        .when(rate < cfg.leak_info_below_m3h)
        .then(pl.lit("info"))
        .otherwise(pl.lit("warning"))
    )


def continuous_flow(iv: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Leak: consumption in every interval (hour or quarter-hour) of a ``leak_window_h`` window.

    A run of consecutive valid intervals with consumption that lasts the window is an episode. A gap in
    the data breaks the run (flow during it is unknown). An episode stays active until
    ``leak_clear_zero_intervals`` consecutive zero-consumption intervals follow it.
    """
    iv = _leak_candidates(iv, cfg).with_columns(interval_hours().alias("dt_h"))
    iv = iv.with_columns(interval_rate(pl.col("dt_h")).alias("rate_m3h"))
    flow = pl.col("valid") & (pl.col("delta_m3") > cfg.zero_m3)
    start = _T - pl.duration(microseconds=(pl.col("dt_h") * 3.6e9).cast(pl.Int64))
    runs = iv.select(
        "meter_key",
        "measured_at",
        "rate_m3h",
        run_start(flow, start).alias("run_start"),
        (pl.col("valid") & (pl.col("delta_m3") <= cfg.zero_m3)).alias("zero"),
        pl.col("last"),
    )
    window = timedelta(hours=cfg.leak_window_h)
    leaking = runs.filter((_T - pl.col("run_start")) >= window)
    if leaking.height == 0:
        return conform(pl.DataFrame(), DETECTION_SCHEMA).clear()
    episodes = _flow_episodes(runs, leaking)
    cleared = _cleared_after(runs, episodes, cfg.leak_clear_zero_intervals)
    episodes = episodes.join(cleared, on="meter_key", how="left")
    is_last_episode = pl.col("run_start") == pl.col("run_start").max().over("meter_key")
    active = is_last_episode & ~pl.col("cleared").fill_null(False)
    return detections(
        episodes, kind="continuous_flow", severity=_severity_by_flow(pl.col("min_flow_m3h"), cfg),
        started=pl.col("run_start"), ended=pl.col("run_end"),
        active=active, dedupe_key=pl.col("run_start").dt.strftime("%Y-%m-%dT%H:%M"),
        evidence={
            "min_flow_m3h": pl.col("min_flow_m3h").round(4),
            "mean_flow_m3h": pl.col("mean_flow_m3h").round(4),
            "hours_without_zero": pl.col("hours").round(1),
            "window_h": pl.lit(cfg.leak_window_h),
        },
    )


def _leak_candidates(iv: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Rows of the meters that have a run of flow intervals lasting the window (one cheap full pass).

    A run starts where its first interval starts, i.e. at the previous reading, which is the newest reading
    without flow (a meter's first reading never has flow, so the fill never crosses meters). The exact
    rule then runs on these meters only; the millisecond of slack keeps this a superset of it.
    """
    flow = pl.col("valid") & (pl.col("delta_m3") > cfg.zero_m3)
    t = _T.cast(pl.Int64)
    since = pl.when(~flow).then(t).forward_fill()
    window_us = cfg.leak_window_h * 3_600_000_000 - 1_000
    keys = iv.lazy().select("meter_key", (flow & (t - since >= window_us)).alias("hit")).filter("hit")
    return rows_of(iv, keys.select(pl.col("meter_key").unique()).collect().to_series())


def _flow_episodes(runs: pl.DataFrame, leaking: pl.DataFrame) -> pl.DataFrame:
    """Per qualifying run: end, duration and the minimum and mean flow over the whole run."""
    keys = leaking.select("meter_key", "run_start").unique()
    rows = runs.filter(pl.col("run_start").is_not_null()).join(keys, on=["meter_key", "run_start"])
    return (
        rows.group_by("meter_key", "run_start")
        .agg(
            pl.col("measured_at").max().alias("run_end"),
            pl.col("rate_m3h").min().alias("min_flow_m3h"),
            pl.col("rate_m3h").mean().alias("mean_flow_m3h"),
        )
        .with_columns(((pl.col("run_end") - pl.col("run_start")).dt.total_seconds() / 3600).alias("hours"))
    )


def _cleared_after(runs: pl.DataFrame, episodes: pl.DataFrame, needed: int) -> pl.DataFrame:
    """Per meter: did ``needed`` consecutive zero intervals follow the meter's last episode?"""
    last_end = episodes.group_by("meter_key").agg(pl.col("run_end").max().alias("last_end"))
    after = runs.join(last_end, on="meter_key").filter(pl.col("last_end") < _T).sort("meter_key", "measured_at")
    if after.height == 0:
        return last_end.select("meter_key", pl.lit(False).alias("cleared"))
    z = pl.col("zero")
    brk = (~z) | (pl.col("meter_key") != pl.col("meter_key").shift(1)).fill_null(True)
    counted = after.with_columns(brk.cum_sum().alias("zrun")).filter(z)
    longest = counted.group_by("meter_key", "zrun").len().group_by("meter_key").agg(pl.col("len").max())
    return longest.select("meter_key", (pl.col("len") >= needed).alias("cleared"))


def night_minima(iv: pl.DataFrame, points: pl.DataFrame | None, cfg: RuleConfig) -> pl.DataFrame:
    """Minimum flow per service point (or meter) and local night, from intervals inside the night window.

    Only intervals that start and end within ``night_start_h``–``night_end_h`` local time count, so an
    hour-long dishwasher programme at 03:00 leaves the 02:00–03:00 interval at zero.
    """
    per_meter = _night_per_meter(_night_candidates(iv, cfg), cfg)
    per_meter = _leaky_series_only(per_meter, points, cfg)
    # the installation map is joined on the small per-meter-night frame, not on every interval
    per_meter = attach_point(per_meter, points).sort("series", "night", "meter_key")
    return (
        per_meter.group_by("series", "night", maintain_order=True)
        .agg(
            pl.col("min_flow_m3h").min(),
            pl.col("covered_h").max(),
            pl.col("meter_key").last(),
            pl.col("service_point_id").last(),
        )
        .filter(pl.col("covered_h") >= (cfg.night_end_h - cfg.night_start_h) / 2)
    )


def _night_candidates(iv: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Valid intervals with a rate, ending in a UTC-hour superset of the night window (Warsaw is UTC+1/+2):
    one modulo on the raw epoch per block, no full-size columns; local times only for these rows."""
    first_us = ((cfg.night_start_h - 2) % 24) * _HOUR_US
    n_us = (cfg.night_end_h - cfg.night_start_h + 2) * _HOUR_US  # interval ends in (start, end]
    night = ((_T.cast(pl.Int64) - first_us) % _DAY_US) < n_us
    # valid with a delta ⇔ a non-null rate (valid implies a previous reading of the same meter)
    rows = _gather_intervals(iv, pl.col("valid") & pl.col("delta_m3").is_not_null() & night)
    start_us = pl.col("end_us") - (pl.col("dt_h") * 3.6e9).cast(pl.Int64)
    cand = rows.select("meter_key", "rate_m3h", "dt_h", "end_us", start_us.alias("start_us")).collect()
    return cand.with_columns(
        local_us(cand, "start_us", cfg.timezone).alias("ls"), local_us(cand, "end_us", cfg.timezone).alias("le")
    )


def _night_per_meter(cand: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Per meter and local night: minimum rate and covered hours (a hash group-by on the integer day:
    a sorted ``meter × 2²⁰ + day`` key measured ~15 % slower on these few million rows)."""
    ls, le = pl.col("ls"), pl.col("le")
    inside = (hour_of(ls) >= cfg.night_start_h) & (hour_of(le) <= cfg.night_end_h) & (ls // _DAY_US == le // _DAY_US)
    return (
        cand.lazy()
        .filter(inside)
        .group_by("meter_key", (ls // _DAY_US).alias("day"))
        .agg(pl.col("rate_m3h").min().alias("min_flow_m3h"), pl.col("dt_h").sum().alias("covered_h"))
        .select("meter_key", pl.col("day").cast(pl.Int32).cast(pl.Date).alias("night"), "min_flow_m3h", "covered_h")
        .collect()
    )


def _gather_intervals(iv: pl.DataFrame, where: pl.Expr) -> pl.LazyFrame:
    """``meter_key, end_us, dt_h, rate_m3h`` of the intervals where ``where`` holds (it must imply
    ``valid``): rows and their previous readings' times (the mask shifted up one row) are filtered in one
    pass, so lengths and rates are only computed for those rows."""
    hit = pl.col("hit")
    t = _T.cast(pl.Int64)
    rows = (
        iv.lazy()
        .with_columns(mask_of(iv, where))
        .select(
            pl.col("meter_key", "delta_m3").filter(hit),
            t.filter(hit).alias("end_us"),
            t.filter(hit.shift(-1, fill_value=False)).alias("prev_us"),
        )
    )
    dt_h = (pl.col("end_us") - pl.col("prev_us")) / 3.6e9
    return rows.select("meter_key", "end_us", dt_h.alias("dt_h"), (pl.col("delta_m3") / dt_h).alias("rate_m3h"))


def _leaky_series_only(per_meter: pl.DataFrame, points: pl.DataFrame | None, cfg: RuleConfig) -> pl.DataFrame:
    """Keep the nights of series (service points, else meters) with at least one night above
    ``night_min_m3h``: a night is only leaky above ``max(night_min_m3h, …)``, so the others never raise."""
    keys = per_meter.filter(pl.col("min_flow_m3h") > cfg.night_min_m3h).get_column("meter_key").unique()
    if points is not None and points.height:
        sp = points.select("meter_key", "service_point_id").unique("meter_key", keep="last")
        sps = sp.filter(pl.col("meter_key").is_in(keys.implode())).get_column("service_point_id")
        keys = pl.concat([keys, sp.filter(pl.col("service_point_id").is_in(sps.implode())).get_column("meter_key")])
    return per_meter.filter(pl.col("meter_key").is_in(keys.implode()))


def night_flow(iv: pl.DataFrame, points: pl.DataFrame | None, cfg: RuleConfig) -> pl.DataFrame:
    """Leak: minimum night flow above the service point's own baseline for ``night_raise_nights`` nights.

    The baseline is the lowest night minimum of the previous ``night_baseline_nights`` nights; a night is
    leaky when its minimum exceeds ``max(night_min_m3h, baseline + night_margin_m3h)``. The episode clears
    after ``night_clean_nights`` consecutive clean nights.
    """
    nights = night_minima(iv, points, cfg)
    if nights.height == 0:
        return conform(pl.DataFrame(), DETECTION_SCHEMA).clear()
    nights = nights.with_columns(_baseline(nights, cfg).alias("baseline_m3h"))
    base = pl.col("baseline_m3h")
    thr = pl.max_horizontal(pl.lit(cfg.night_min_m3h), base.fill_null(0.0) + cfg.night_margin_m3h)
    nights = nights.with_columns(thr.alias("threshold_m3h"))
    nights = nights.with_columns((pl.col("min_flow_m3h") > pl.col("threshold_m3h")).alias("leaky"))
    return _night_episodes(nights, cfg)


def _baseline(nights: pl.DataFrame, cfg: RuleConfig) -> pl.Series:
    """Lowest night minimum of the previous ``night_baseline_nights`` nights of the same series.

    A sorted global rolling minimum instead of ``.over("series")``: each series' values are shifted down
    by ``1e3 × series ordinal`` so an earlier series can never win the minimum, and rows with fewer than
    ``night_baseline_min_nights`` own previous nights are masked.
    """
    s = pl.col("series")
    first = (s != s.shift(1)).fill_null(True)
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    seq = first.cum_sum().cast(pl.Float64) * 1e3
    prev = pl.when(~first).then(pl.col("min_flow_m3h").shift(1) - seq)
    idx = row - pl.when(first).then(row).forward_fill()
    rolled = prev.rolling_min(cfg.night_baseline_nights, min_samples=1) + seq
    return nights.select(pl.when(idx >= cfg.night_baseline_min_nights).then(rolled).alias("baseline_m3h")).to_series()


def _night_episodes(nights: pl.DataFrame, cfg: RuleConfig) -> pl.DataFrame:
    """Runs of leaky nights long enough to raise, and whether enough clean nights followed the last one."""
    s, leaky = pl.col("series"), pl.col("leaky")
    brk = (leaky != leaky.shift(1)) | (s != s.shift(1))
    nights = nights.with_columns(brk.fill_null(True).cum_sum().alias("run"))
    runs = nights.group_by("run", maintain_order=True).agg(
        pl.col("series").first(),
        pl.col("leaky").first(),
        pl.len().alias("n"),
        pl.col("night").first().alias("first_night"),
        pl.col("night").last().alias("last_night"),
        pl.col("min_flow_m3h").min().alias("min_flow_m3h"),
        pl.col("baseline_m3h").first().alias("baseline_m3h"),
        pl.col("meter_key").last(),
        pl.col("service_point_id").last(),
    )
    clean_long = (~pl.col("leaky")) & (pl.col("n") >= cfg.night_clean_nights)
    # an episode is a raising run; it ends at the first long-enough clean run after it
    runs = runs.with_columns(
        (pl.col("leaky") & (pl.col("n") >= cfg.night_raise_nights)).alias("raises"),
        clean_long.cast(pl.Int32).cum_sum().over("series").alias("epoch"),
    )
    eps = runs.filter(pl.col("raises"))
    last_epoch = runs.group_by("series").agg(pl.col("epoch").max().alias("last_epoch"))
    eps = eps.join(last_epoch, on="series").unique(["series", "epoch"], keep="first", maintain_order=True)
    to_dt = pl.col("first_night").cast(pl.Datetime("us")).dt.replace_time_zone(cfg.timezone)
    end_dt = pl.col("last_night").cast(pl.Datetime("us")).dt.replace_time_zone(cfg.timezone)
    return detections(
        eps, kind="night_flow", severity=_severity_by_flow(pl.col("min_flow_m3h"), cfg),
        started=(to_dt + pl.duration(hours=cfg.night_start_h)).dt.convert_time_zone("UTC"),
        ended=(end_dt + pl.duration(hours=cfg.night_end_h)).dt.convert_time_zone("UTC"),
        active=pl.col("epoch") == pl.col("last_epoch"), dedupe_key=pl.col("first_night").cast(pl.String),
        evidence={
            "min_night_flow_m3h": pl.col("min_flow_m3h").round(4),
            "baseline_m3h": pl.col("baseline_m3h").round(4),
            "leaky_nights": pl.col("n"),
            "first_night": pl.col("first_night").cast(pl.String),
        },
    )


def burst(iv: pl.DataFrame, meters: pl.DataFrame | None, cfg: RuleConfig) -> pl.DataFrame:
    """High flow above ``burst_share_of_q3`` × Q3 for ``burst_minutes``, from intervals or reported flow.

    An interval's mean rate above the threshold covers its whole length; reported instantaneous flow
    covers the span between consecutive high readings. Active while the meter's newest row is high.
    """
    q3 = _q3_map(meters, cfg)
    floor = cfg.burst_share_of_q3 * min([cfg.default_q3_m3h, *q3.get_column("q3_m3h").to_list()])
    rate_hi = pl.col("valid") & (interval_rate() >= floor)
    flow_hi = pl.col("flow_m3h") >= floor
    # positions first, then only those rows are gathered (no full-size row index or rate column)
    idx = positions(iv, rate_hi | flow_hi).cast(pl.Int64)
    prev_us = iv.get_column("measured_at").to_physical().gather((idx - 1).clip(lower_bound=0))
    dt_h = pl.when(pl.col("same")).then((_T.cast(pl.Int64) - prev_us) / 3.6e9)
    cand = iv.select(pl.all().gather(idx)).with_columns(idx.alias("idx"), dt_h.alias("dt_h"))
    cand = cand.with_columns(interval_rate(pl.col("dt_h")).alias("rate_m3h"))
    if cand.height == 0:
        return conform(pl.DataFrame(), DETECTION_SCHEMA).clear()
    thr = pl.col("q3_m3h").fill_null(cfg.default_q3_m3h) * cfg.burst_share_of_q3
    cand = (
        cand.join(q3, on="meter_key", how="left")
        .with_columns(thr.alias("thr"))
        .filter((pl.col("valid") & (pl.col("rate_m3h") >= pl.col("thr"))) | (pl.col("flow_m3h") >= pl.col("thr")))
    )
    by_rate = pl.col("valid") & (pl.col("rate_m3h") >= pl.col("thr"))
    span_start = pl.when(by_rate).then(_T - pl.duration(microseconds=(pl.col("dt_h") * 3.6e9).cast(pl.Int64)))
    adjacent = (pl.col("idx") == pl.col("idx").shift(1) + 1) & (pl.col("meter_key") == pl.col("meter_key").shift(1))
    cand = cand.with_columns(
        span_start.otherwise(_T).alias("span_start"),
        pl.max_horizontal(pl.col("rate_m3h").fill_null(0), pl.col("flow_m3h").fill_null(0)).alias("peak"),
        (~adjacent.fill_null(False)).cum_sum().alias("run"),
    )
    runs = (
        cand.group_by("run")
        .agg(
            pl.col("meter_key").first(),
            pl.col("span_start").min(),
            pl.col("measured_at").max().alias("end"),
            pl.col("peak").max(),
            pl.col("thr").first(),
            pl.col("last").max(),
            pl.col("q3_m3h").first(),
        )
        .filter((pl.col("end") - pl.col("span_start")) >= timedelta(minutes=cfg.burst_minutes))
    )
    return detections(
        runs, kind="burst", severity="critical", started=pl.col("span_start"), ended=pl.col("end"),
        active=pl.col("last"), dedupe_key=pl.col("span_start").dt.strftime("%Y-%m-%dT%H:%M"),
        evidence={
            "peak_flow_m3h": pl.col("peak").round(3),
            "threshold_m3h": pl.col("thr").round(3),
            "minutes": ((pl.col("end") - pl.col("span_start")).dt.total_minutes()),
        },
        sort=True,
    )


def _q3_map(meters: pl.DataFrame | None, cfg: RuleConfig) -> pl.DataFrame:
    if meters is None or "q3_m3h" not in meters.columns:
        return pl.DataFrame(schema={"meter_key": pl.Int64, "q3_m3h": pl.Float64})
    return meters.select("meter_key", "q3_m3h").filter(pl.col("q3_m3h") > 0)
