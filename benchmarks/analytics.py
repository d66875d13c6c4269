"""Benchmark of the alert rules over a year of hourly readings, and of loading readings into polars.

Generates ``--meters`` × ``--days`` hourly readings (10,000 × 365 = 87.6 M rows by default) in memory with
vectorised numpy, injects anomalies on disjoint sets of meters (plus negative cases: dishwasher at 03:00,
empty holiday houses, meter replacements), times every rule over all of it, samples RSS, and scores
precision/recall per rule against the injected ground truth. Then starts an EmbeddedPostgres, fills it with
``--load-rows`` readings by binary COPY (ADBC ingest), and times ADBC → polars vs psycopg row fetch.
The last line printed is one JSON object with every figure.

    .venv/bin/python benchmarks/analytics.py --meters 1000 --days 120   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.compute as pc

from alerts.config import RuleConfig
from alerts.engine import evaluate
from core.types import ALARM_BITS, Alarm

START = datetime(2024, 1, 1, tzinfo=UTC)
INJECT = {  # share of meters per injected case (disjoint)
    "leak": 0.01,
    "burst": 0.01,
    "reverse": 0.01,
    "stuck": 0.01,
    "silent": 0.01,
    "tamper": 0.01,
    "anomaly": 0.01,
    "holiday": 0.01,
    "dishwasher": 0.02,
    "replaced": 0.01,
}
EXPECT = {  # rule kind → injected cases that should raise it
    "continuous_flow": {"leak"},
    "night_flow": {"leak"},
    "burst": {"burst"},
    "reverse_flow": {"reverse"},
    "stuck": {"stuck"},
    "silent": {"silent"},
    "meter_tamper": {"tamper"},
    "consumption_anomaly": {"anomaly"},
}


def _status_gb(field: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in GiB; ru_maxrss where there is none."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _reset_peak() -> None:
    """Restart the kernel's peak-RSS counter (Linux ``clear_refs`` 5), so a peak covers what follows."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def meter_params(n_meters: int, days: int, seed: int) -> pl.DataFrame:
    """One row per meter: its injected case ('' = ordinary household) and that case's parameters."""
    rng = random.Random(seed)
    hours = days * 24
    order = list(range(n_meters))
    rng.shuffle(order)
    cases = [""] * n_meters
    pos = 0
    for name, share in INJECT.items():
        k = max(1, int(n_meters * share))
        for m in order[pos : pos + k]:
            cases[m] = name
        pos += k
    rows = []
    for m, case in enumerate(cases):
        d0 = rng.randint(30, max(31, days - 75))
        rows.append(
            {
                "case": case,
                "leak_from": d0 * 24,
                "leak_to": (d0 + rng.randint(5, 14)) * 24,
                "leak_rate": rng.uniform(0.005, 0.05),
                "burst_h": rng.randint(0, days - 2) * 24 + 9,
                "burst_rate": rng.uniform(1.0, 2.0),
                "rev_h": rng.randint(48, hours - 48),
                "rev_m3": rng.uniform(0.05, 0.2),
                "zero_from": hours - (35 if case == "stuck" else 60) * 24,
                "replace_h": rng.randint(48, hours - 48),
                "tamper_h": rng.randint(1, hours - 1),
                "total0": rng.uniform(10, 2000),
                "meter_key": m + 1,
            }
        )
    return pl.DataFrame(rows)


def _injected_use(h: pl.Expr, p: dict[str, pl.Expr], hours: int) -> pl.Expr:
    """Hourly consumption: random household use, then every injected case on its meters."""
    u, v = pl.col("u"), pl.col("v")
    local_h = (h + 1) % 24  # Warsaw ≈ UTC+1 is enough for generating data
    # households draw at most 0.3 m³ in an hour (a bath is 0.15); the exponential tail beyond is not real use
    amount = (-(1 - v).log() * 0.02).clip(upper_bound=0.3)
    use = pl.when(u < pl.when(local_h < 6).then(0.02).otherwise(0.45)).then(amount).otherwise(0.0)
    case = p["case"]
    use = (
        pl.when((case == "leak") & (h >= p["leak_from"]) & (h < p["leak_to"])).then(use + p["leak_rate"]).otherwise(use)
    )
    use = pl.when((case == "burst") & (h >= p["burst_h"]) & (h < p["burst_h"] + 2)).then(p["burst_rate"]).otherwise(use)
    use = pl.when((case == "reverse") & (h == p["rev_h"])).then(-p["rev_m3"]).otherwise(use)
    use = pl.when(case.is_in(["stuck", "holiday"]) & (h >= p["zero_from"])).then(0.0).otherwise(use)
    use = pl.when((case == "dishwasher") & (h % 24 == 2)).then(0.015).otherwise(use)  # 03–04 local nightly
    return pl.when((case == "anomaly") & (h >= hours - 30 * 24)).then((use * 4).clip(upper_bound=0.3)).otherwise(use)


def generate(n_meters: int, days: int, seed: int = 6) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[str]]:
    """Readings, meters and points frames (vectorised polars/Arrow generation) plus the case per meter."""
    hours, n = days * 24, n_meters * days * 24
    params = meter_params(n_meters, days, seed)
    idx = pl.int_range(0, n, dtype=pl.Int64, eager=True)
    meter_idx = idx // hours
    df = pl.DataFrame(
        {
            "meter_key": meter_idx + 1,
            "h": idx % hours,
            "u": pl.Series(pc.random(n, initializer=seed)),
            "v": pl.Series(pc.random(n, initializer=seed + 1)),
        }
    )
    p = {c: pl.lit(params[c]).gather(pl.col("meter_key") - 1) for c in params.columns if c != "meter_key"}
    h = pl.col("h")
    df = df.with_columns(_injected_use(h, p, hours).alias("use")).drop("u", "v")
    cs = pl.col("use").cum_sum()
    total = cs - pl.when(h == 0).then(cs - pl.col("use")).forward_fill() + p["total0"]
    df = df.with_columns(total.alias("total_m3"))
    # a replaced meter: a new register starting near 0 at the same service point
    replaced = (p["case"] == "replaced") & (h >= p["replace_h"])
    at_swap = df.filter(h == p["replace_h"] - 1).select("meter_key", pl.col("total_m3").alias("swap"))
    swap = pl.lit(at_swap["swap"]).gather(pl.lit(at_swap["meter_key"]).search_sorted(pl.col("meter_key")))
    tamper = pl.when((p["case"] == "tamper") & (h == p["tamper_h"])).then(ALARM_BITS[Alarm.TAMPER]).otherwise(0)
    t0 = int(START.timestamp() * 1e6)
    df = (
        df.filter(~((p["case"] == "silent") & (h >= hours - 5 * 24)))
        .select(
            "meter_key",
            ((h + 1) * 3_600_000_000 + t0).cast(pl.Datetime("us", "UTC")).alias("measured_at"),
            pl.when(replaced).then(pl.col("total_m3") - swap + 0.001).otherwise(pl.col("total_m3")).alias("total_m3"),
            pl.lit(0.0).alias("backward_m3"),
            pl.lit(None, dtype=pl.Float64).alias("flow_m3h"),
            tamper.cast(pl.Int32).alias("alarms"),
            pl.lit(0, dtype=pl.Int16).alias("source"),
        )
        .set_sorted("meter_key")
    )
    keys = params["meter_key"]
    cases = params["case"].to_list()
    meters = pl.DataFrame(
        {
            "meter_key": keys,
            "q3_m3h": [2.5] * n_meters,
            "legalization_mark_type": ["mid"] * n_meters,
            "legalization_mark_value": [f"M{19 + i % 6}" for i in range(n_meters)],
        }
    )
    points = pl.DataFrame(
        {
            "meter_key": keys,
            "service_point_id": [f"SP{k}" for k in keys.to_list()],
            "area": ["A"] * n_meters,
            "occupied": [c != "holiday" for c in cases],
        }
    )
    return df, meters, points, cases


def score(detections: pl.DataFrame, cases: list[str]) -> dict[str, dict[str, float]]:
    """Meter-level precision and recall per rule kind against the injected cases."""
    out = {}
    for kind, expected in EXPECT.items():
        found = set(detections.filter(pl.col("kind") == kind)["meter_key"].to_list())
        truth = {i + 1 for i, c in enumerate(cases) if c in expected}
        tp = len(found & truth)
        wrong = sorted({cases[m - 1] or "household" for m in found - truth})
        out[kind] = {
            "precision": round(tp / len(found), 4) if found else 1.0,
            "recall": round(tp / len(truth), 4) if truth else 1.0,
            "found": len(found),
            "truth": len(truth),
            "false_positive_cases": wrong,
        }
    return out


def diff_methods(df: pl.DataFrame) -> dict[str, float]:
    """Per-meter register difference: ``.over()`` window vs sorted shift with a boundary mask."""
    t = time.perf_counter()
    df.select(pl.col("total_m3").diff().over("meter_key"))
    naive = time.perf_counter() - t
    t = time.perf_counter()
    k = pl.col("meter_key")
    df.select(pl.when(k == k.shift(1)).then(pl.col("total_m3") - pl.col("total_m3").shift(1)))
    return {"diff_over_s": round(naive, 3), "diff_sorted_s": round(time.perf_counter() - t, 3)}


def bench_rules(n_meters: int, days: int) -> dict[str, object]:
    """Generate and write the frames, run every rule in a fresh process (so generation memory is not
    counted), score."""
    t = time.perf_counter()
    df, meters, points, cases = generate(n_meters, days)
    gen_s = time.perf_counter() - t
    diffs = diff_methods(df)
    work = Path(tempfile.mkdtemp(prefix="odczyt-rules-"))
    try:
        for name, frame in (("readings", df), ("meters", meters), ("points", points)):
            frame.write_ipc(work / f"{name}.arrow")
        rows = df.height
        del df
        cmd = [sys.executable, __file__, "--rules-from", str(work)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        run = json.loads(out)
        detections = pl.read_ipc(work / "detections.arrow")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "rows": rows,
        "meters": n_meters,
        "days": days,
        "generate_s": round(gen_s, 2),
        **run,
        "rows_per_s": round(rows / run["rules_s"]),
        "quality": score(detections, cases),
        **diffs,
    }


def run_rules(work: Path) -> dict[str, object]:
    """Child process: load the frames, run every rule once; peak RSS counts from the loaded readings on."""
    df = pl.read_ipc(work / "readings.arrow").set_sorted("meter_key")
    meters, points = pl.read_ipc(work / "meters.arrow"), pl.read_ipc(work / "points.arrow")
    gc.collect()
    _reset_peak()
    frame_gb = _status_gb("VmRSS")
    t = time.perf_counter()
    ev = evaluate(df, meters=meters, points=points, cfg=RuleConfig(), assume_sorted=True)
    rules_s = time.perf_counter() - t
    ev.detections.write_ipc(work / "detections.arrow")
    return {
        "rules_s": round(rules_s, 2),
        "rule_s": {k: round(v, 3) for k, v in ev.seconds.items()},
        "rss_with_readings_gb": round(frame_gb, 2),
        "peak_rss_gb": round(_status_gb("VmHWM"), 2),
    }


def run_sharded(n_meters: int, days: int, shard_meters: int) -> dict[str, object]:
    """Child process: the fleet generated and evaluated one shard of ``shard_meters`` meters at a time (each its
    own seed and key range), as ``odczyt analyze --shards`` evaluates key ranges; peak RSS covers generation
    and rules of the largest shard. Returns the timings, the peak and the quality over the whole fleet."""
    gen_s = rules_s = 0.0
    detections, cases = [], []
    _reset_peak()
    for first in range(0, n_meters, shard_meters):
        m = min(shard_meters, n_meters - first)
        t = time.perf_counter()
        df, meters, points, shard_cases = generate(m, days, seed=6 + first // shard_meters)
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        ev = evaluate(df, meters=meters, points=points, cfg=RuleConfig(), assume_sorted=True)
        rules_s += time.perf_counter() - t
        detections.append(ev.detections.filter(pl.col("kind").is_not_null())
                          .with_columns(pl.col("meter_key") + first))
        cases += shard_cases
        del df, meters, points, ev
        gc.collect()
    found = pl.concat(detections)
    return {"sharded_meters": n_meters, "shard_meters": shard_meters, "sharded_rows": n_meters * days * 24,
            "sharded_generate_s": round(gen_s, 1), "sharded_rules_s": round(rules_s, 1),
            "sharded_peak_rss_gb": round(_status_gb("VmHWM"), 2), "sharded_quality": score(found, cases)}


def bench_sharded(n_meters: int, days: int, shard_meters: int) -> dict[str, object]:
    """:func:`run_sharded` in a fresh process (its peak RSS is the figure)."""
    cmd = [sys.executable, __file__, "--sharded-child", f"{n_meters},{days},{shard_meters}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return dict(json.loads(out))


def bench_load(n_rows: int, psycopg_rows: int) -> dict[str, object]:
    """Fill an EmbeddedPostgres by binary COPY and time ADBC and psycopg reads into polars."""
    import adbc_driver_postgresql.dbapi as adbc

    from pipeline.embedded import EmbeddedPostgres
    from storage.analytics import load_readings, load_readings_psycopg
    from storage.migrate import migrate

    base = Path(tempfile.mkdtemp(prefix="odczyt-bench-"))
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base).start()
    try:
        migrate(pg.url)
        meters = max(1, n_rows // 1000)
        df, *_ = generate(meters, 1000 // 24 + 1)
        df = df.head(n_rows).with_columns(pl.col("measured_at").alias("received_at"))
        t = time.perf_counter()
        with adbc.connect(pg.url) as conn, conn.cursor() as cur:
            cur.adbc_ingest("readings", df.to_arrow(), mode="append")
            conn.commit()
        copy_s = time.perf_counter() - t
        t = time.perf_counter()
        got = load_readings(pg.url, ordered=False, parallel=1)
        adbc_s = time.perf_counter() - t
        t = time.perf_counter()
        par = load_readings(pg.url, ordered=False, parallel=2)
        par_s = time.perf_counter() - t
        until = START + timedelta(hours=max(1, psycopg_rows // meters))
        t = time.perf_counter()
        small = load_readings_psycopg(pg.url, until=until)
        psy_s = time.perf_counter() - t
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    return {
        "load_rows": got.height,
        "copy_rows_per_s": round(n_rows / copy_s),
        "adbc_s": round(adbc_s, 2),
        "adbc_rows_per_s": round(got.height / adbc_s),
        "adbc_parallel2_rows_per_s": round(par.height / par_s),
        "psycopg_rows": small.height,
        "psycopg_rows_per_s": round(small.height / psy_s),
    }


def main() -> None:
    """Command line: run both benchmarks and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--load-rows", type=int, default=10_000_000)
    ap.add_argument("--psycopg-rows", type=int, default=1_000_000)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--sharded-meters", type=int, default=0,
                    help="also: this many meters generated and evaluated in shards (e.g. 100000)")
    ap.add_argument("--shard-meters", type=int, default=10_000, help="meters per shard of --sharded-meters")
    ap.add_argument("--skip-whole", action="store_true", help="skip the whole-fleet run of --meters")
    ap.add_argument("--rules-from", type=Path, help=argparse.SUPPRESS)  # the child process of bench_rules
    ap.add_argument("--sharded-child", help=argparse.SUPPRESS)  # the child process of bench_sharded
    args = ap.parse_args()
    if args.rules_from:
        print(json.dumps(run_rules(args.rules_from)))
        return
    if args.sharded_child:
        n, d, m = (int(x) for x in args.sharded_child.split(","))
        print(json.dumps(run_sharded(n, d, m)))
        return
    result: dict[str, object] = {}
    if args.sharded_meters:
        result.update(bench_sharded(args.sharded_meters, args.days, args.shard_meters))
        for kind, q in result["sharded_quality"].items():  # type: ignore[attr-defined]
            print(f"sharded {kind:20s} precision {q['precision']:.3f} recall {q['recall']:.3f}")
        print(f"sharded: {result['sharded_rows']:,} rows, rules {result['sharded_rules_s']} s, generation "
              f"{result['sharded_generate_s']} s, peak RSS {result['sharded_peak_rss_gb']} GB", flush=True)
    if args.skip_whole:
        print(json.dumps(result, separators=(",", ":")))
        return
    result.update(bench_rules(args.meters, args.days))
    for kind, q in result["quality"].items():  # type: ignore[union-attr]
        print(f"{kind:20s} precision {q['precision']:.3f} recall {q['recall']:.3f} ({q['found']}/{q['truth']})")
    print(f"rules: {result['rows']:,} rows in {result['rules_s']} s; peak RSS {result['peak_rss_gb']} GB")
    if not args.skip_load:
        result.update(bench_load(args.load_rows, args.psycopg_rows))
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
