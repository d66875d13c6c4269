"""Frame contracts and the sorted, boundary-masked interval preparation every rule starts from.

Rules work on one frame holding all meters, sorted by ``(meter_key, measured_at)``. A "previous row" is
only meaningful when it belongs to the same meter, so every lag is masked with ``same`` instead of using
``.over("meter_key")`` windows, which measured 4–7× slower on 87.6 M rows (see benchmarks/analytics.py).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from alerts.config import RuleConfig
from core.schemas import UTC_US

DETECTION_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "meter_key": pl.Int64(),
    "service_point_id": pl.String(),
    "severity": pl.String(),
    "started_at": UTC_US,
    "ended_at": UTC_US,
    "active": pl.Boolean(),
    "dedupe_key": pl.String(),
    "evidence": pl.String(),  # JSON object: the numbers that triggered the detection
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with ``schema``."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select ``schema``'s columns in order, cast to it, and add missing ones as nulls."""
    cols = [
        pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    ]
    return df.select(cols)


def prepare(readings: pl.DataFrame, cfg: RuleConfig, *, assume_sorted: bool = False) -> pl.DataFrame:
    """Readings → intervals: add ``same``, ``last``, ``reset``, ``delta_m3`` and ``valid``.

    ``delta_m3`` is the register change since the meter's previous reading (null at the meter's first
    reading and where the register restarted near zero — a replaced or reset meter is not reverse flow).
    ``valid`` marks an interval short enough to say something about flow during it; its length and mean
    flow are :func:`interval_hours` and :func:`interval_rate` (computed where needed, not stored).
    The frame is cut (zero-copy) into blocks of at most ``_BLOCK`` rows that every column shares, and the
    differences are computed block by block, so no full-size temporaries are held and eager selects of
    the result never rechunk (they copy every selected column when the columns' chunks differ).
    """
    df = readings if assume_sorted else readings.sort("meter_key", "measured_at")
    n = df.height
    lengths = df.get_column("meter_key").rle().struct.field("len").cast(pl.Int64)
    first = (lengths.cum_sum() - lengths).alias("row0")
    tot = df.get_column("total_m3")
    reset = _restarts(tot, first, cfg.reset_floor_m3)
    same = pl.repeat(True, n, eager=True).alias("same").scatter(first, False)
    last = pl.repeat(False, n, eager=True).alias("last").scatter((first - 1).filter(first > 0), True)
    if n:
        last = last.scatter([n - 1], True)
    reset_flag = pl.repeat(False, n, eager=True).alias("reset").scatter(reset, True)
    bounds = _blocks(tot.chunk_lengths())
    df = df.with_columns(same, last, reset_flag)
    df = pl.concat([df.slice(o, k) for o, k in bounds], rechunk=False) if len(bounds) > 1 else df
    df = df.with_columns(pl.col("meter_key").set_sorted())
    delta = pl.when(pl.col("same") & ~pl.col("reset")).then(pl.col("total_m3").diff())
    dt_us = pl.col("measured_at").cast(pl.Int64).diff()
    valid = (pl.col("same") & (dt_us > 0) & (dt_us <= cfg.max_interval_min * 60_000_000)).fill_null(False)
    return df.with_columns(
        _per_block(df, bounds, delta.alias("delta_m3")), _per_block(df, bounds, valid.alias("valid"))
    )


_BLOCK = 1 << 22


def _blocks(chunk_lengths: list[int]) -> list[tuple[int, int]]:
    """``(offset, length)`` blocks of at most ``_BLOCK`` rows that never cross a chunk boundary."""
    out, off = [], 0
    for length in chunk_lengths:
        out += [(off + a, min(_BLOCK, length - a)) for a in range(0, length, _BLOCK)]
        off += length
    return out or [(0, 0)]


def _per_block(df: pl.DataFrame, bounds: list[tuple[int, int]], expr: pl.Expr) -> pl.Series:
    """``expr`` (which may look one row back) evaluated over runs of blocks of up to ``_BLOCK`` rows with one
    row of overlap (few calls even for thousands of small IPC chunks), then cut back to the blocks."""
    parts: list[pl.Series] = []
    for grp in _runs(bounds):
        o, k = grp[0][0], sum(n for _, n in grp)
        lo = max(o - 1, 0)
        run = df.slice(lo, k + o - lo).select(expr).to_series().slice(o - lo).rechunk()
        parts += [run.slice(b - o, n) for b, n in grp]
    return pl.concat(parts, rechunk=False) if len(parts) > 1 else parts[0]


def _runs(bounds: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive blocks merged into runs of at most ``_BLOCK`` rows (a longer block stays alone)."""
    runs: list[list[tuple[int, int]]] = []
    size = 0
    for b in bounds:
        if not runs or size + b[1] > _BLOCK:
            runs.append([])
            size = 0
        runs[-1].append(b)
        size += b[1]
    return runs


def _restarts(tot: pl.Series, first: pl.Series, floor: float) -> pl.Series:
    """Rows whose register fell below ``floor`` from at least ``floor`` at the meter's previous reading."""
    low = tot.to_frame("t").select(pl.arg_where(pl.col("t") < floor).cast(pl.Int64)).to_series()
    low = low.filter(~low.is_in(first.implode()) & (low > 0))
    prev = tot.gather((low - 1).clip(lower_bound=0))
    return low.filter(prev >= floor)


def interval_hours() -> pl.Expr:
    """Hours since the meter's previous reading (null at its first); for whole-meter sorted frames."""
    return pl.when(pl.col("same")).then(pl.col("measured_at").cast(pl.Int64).diff() / 3.6e9)


def interval_rate(hours: pl.Expr | None = None) -> pl.Expr:
    """Mean flow (m³/h) of a valid interval, null elsewhere (``hours`` defaults to :func:`interval_hours`)."""
    return pl.when(pl.col("valid")).then(pl.col("delta_m3") / (interval_hours() if hours is None else hours))


def run_start(flag: pl.Expr, start: pl.Expr) -> pl.Expr:
    """For rows where ``flag`` holds, the ``start`` of the first row of its consecutive run; else null.

    Runs never cross meters because ``flag`` must include ``same``/``valid``: a meter's first row is
    never flagged, so a run always restarts after a boundary.
    """
    first = flag & ~flag.shift(1).fill_null(False)
    return pl.when(flag).then(pl.when(first).then(start).forward_fill())


def json_evidence(**exprs: pl.Expr) -> pl.Expr:
    """Evidence columns → one JSON-object string column named ``evidence``."""
    return pl.struct([e.alias(k) for k, e in exprs.items()]).struct.json_encode().alias("evidence")


def detections(df: pl.DataFrame, *, kind: str, severity: str | pl.Expr, started: pl.Expr, ended: pl.Expr,
               active: bool | pl.Expr, dedupe_key: pl.Expr, evidence: dict[str, pl.Expr],
               sort: bool = False) -> pl.DataFrame:
    """A rule's rows as detections: the columns every rule fills, conformed to ``DETECTION_SCHEMA``."""
    out = df.with_columns(
        pl.lit(kind).alias("kind"),
        (pl.lit(severity) if isinstance(severity, str) else severity).alias("severity"),
        started.alias("started_at"),
        ended.alias("ended_at"),
        (pl.lit(active) if isinstance(active, bool) else active).alias("active"),
        dedupe_key.alias("dedupe_key"),
        json_evidence(**evidence),
    )
    return conform(out.sort("meter_key", "started_at") if sort else out, DETECTION_SCHEMA)


def analysis_now(readings: pl.DataFrame, now: datetime | None) -> datetime:
    """``now`` if given, else the newest ``measured_at`` in ``readings`` (what a replay over history wants)."""
    if now is not None:
        return now
    newest = readings.get_column("measured_at").max() if readings.height else None
    if newest is None:
        raise ValueError("no readings and no 'now' given")
    return newest  # type: ignore[return-value]


def attach_point(df: pl.DataFrame, points: pl.DataFrame | None) -> pl.DataFrame:
    """Add ``service_point_id`` (via the installation map) and an integer ``series`` key: the service
    point's rank, or ``-meter_key`` for a meter without one (integer keys sort and group fast)."""
    if points is not None and points.height:
        sp = points.select("meter_key", "service_point_id").unique("meter_key", keep="last")
        sp = sp.with_columns(pl.col("service_point_id").rank("dense").cast(pl.Int64).alias("series"))
        df = df.join(sp, on="meter_key", how="left")
    else:
        df = df.with_columns(
            pl.lit(None, dtype=pl.String).alias("service_point_id"), pl.lit(None, dtype=pl.Int64).alias("series")
        )
    return df.with_columns(pl.coalesce(pl.col("series"), -pl.col("meter_key")).alias("series"))


def local_naive(utc: pl.Expr, tz: str) -> pl.Expr:
    """Wall-clock time in ``tz`` as a naive datetime (UTC + that day's offset; cheaper than tz-aware fields)."""
    z = utc.dt.convert_time_zone(tz)
    return utc.dt.replace_time_zone(None) + z.dt.base_utc_offset() + z.dt.dst_offset()


_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


def tz_offset_us(us: pl.Expr, tz: str, lo_us: int, hi_us: int) -> pl.Expr:
    """UTC offset of ``tz`` (µs) at the epoch-µs expression ``us``, valid for ``lo_us`` ≤ us ≤ ``hi_us``.

    Offsets only change on whole UTC hours, so the hours of the range are looked up once (a few thousand
    rows) and the offset becomes a sum of steps at the few transitions: per-row time-zone arithmetic or a
    join on distinct hours costs ~10× more on tens of millions of rows.
    """
    hours = pl.int_range(lo_us // _HOUR_US, hi_us // _HOUR_US + 2, dtype=pl.Int64, eager=True) * _HOUR_US
    z = hours.cast(UTC_US).dt.convert_time_zone(tz)
    off = (z.dt.base_utc_offset() + z.dt.dst_offset()).dt.total_microseconds()
    steps = pl.DataFrame({"h": hours, "off": off}).filter(pl.col("off") != pl.col("off").shift(1))
    expr = pl.lit(off[0], dtype=pl.Int64)
    prev = off[0]
    for h, o in steps.iter_rows():
        expr = expr + pl.when(us >= h).then(pl.lit(o - prev, dtype=pl.Int64)).otherwise(0)
        prev = o
    return expr


def local_us(df: pl.DataFrame, utc_us: str, tz: str) -> pl.Series:
    """Wall-clock ``tz`` time of the Int64 epoch-µs column ``utc_us``, as epoch-µs of a naive local time."""
    col = df.get_column(utc_us)
    if col.len() == 0 or col.null_count() == col.len():
        return col
    off = tz_offset_us(pl.col(utc_us), tz, int(col.min()), int(col.max()))  # type: ignore[arg-type]
    return df.select(pl.col(utc_us) + off).to_series()


def meter_spans(iv: pl.DataFrame) -> pl.DataFrame:
    """``meter_key, row0, row1``: each meter's row range (``row1`` exclusive) in a sorted interval frame."""
    first = iv.select(pl.arg_where(~pl.col("same")).cast(pl.Int64).alias("row0"))
    keys = iv.get_column("meter_key").gather(first.get_column("row0"))
    return first.with_columns(keys, pl.col("row0").shift(-1, fill_value=iv.height).alias("row1"))


def rows_of(iv: pl.DataFrame, keys: pl.Series | list[int], spans: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rows of the meters ``keys`` (whole meters, still sorted), sliced by row range instead of a
    full-frame ``is_in`` filter or join."""
    spans = meter_spans(iv) if spans is None else spans
    want = spans.filter(pl.col("meter_key").is_in(pl.Series(keys, dtype=pl.Int64).implode()))
    parts = [iv.slice(a, b - a) for a, b in want.select("row0", "row1").iter_rows()]
    return pl.concat(parts) if parts else iv.clear()


def hour_of(us: pl.Expr) -> pl.Expr:
    """Hour of day (with fraction) of an epoch-µs expression."""
    return (us % _DAY_US) / _HOUR_US


def date_of(us: pl.Expr) -> pl.Expr:
    """Calendar date of an epoch-µs expression."""
    return (us // _DAY_US).cast(pl.Int32).cast(pl.Date)


def mask_of(iv: pl.DataFrame, where: pl.Expr) -> pl.Series:
    """``where`` (may look one row back) as a Boolean ``hit`` column of a prepared frame, nulls false.

    Evaluated chunk by chunk (``prepare`` cut every column at the same ≤ ``_BLOCK``-row boundaries), so
    the predicate's Float64/Int64 temporaries exist for one block at a time, not for the whole frame.
    """
    if iv.height == 0:
        return pl.Series("hit", [], dtype=pl.Boolean)
    return _per_block(iv, _blocks(iv.get_column("same").chunk_lengths()), where.fill_null(False).alias("hit"))


def positions(iv: pl.DataFrame, where: pl.Expr) -> pl.Series:
    """Row positions (UInt32) where ``where`` holds in a prepared frame (see :func:`mask_of`)."""
    return mask_of(iv, where).arg_true()
