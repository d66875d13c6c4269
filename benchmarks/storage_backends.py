"""Storage on both backends side by side: size per reading, ingest through the writer, query latencies, ADBC load.

For each backend (native partitions, TimescaleDB when installed) an EmbeddedPostgres is started (preloading
TimescaleDB or not) and migrated; ``--meters`` meters (registry, service points, installations) get
``--days`` of hourly readings (10,000 × 365 = 87.6 M by default) with realistic register increments (whole
litres, a day/night profile, random reception delays). The first ``--writer-days`` days go through the worker's
writer (:func:`storage.writer.write_rows`, probe strategy, batches of 5,000 readings in time order: the ingest
rate); the rest is bulk-loaded with binary COPY (ADBC), a day at a time. Then the backend's own upkeep runs
(TimescaleDB: the compression job and the continuous-aggregate refresh; native: the rollup refresh), and the
figures are measured: bytes per reading on disk (table + indexes, all partitions or chunks, compressed where
the backend compresses), p99 of one service point's daily consumption over a year and of one meter's readings
over a month, the billing cut-off over all meters, the dashboard's daily aggregates over a month, and an ADBC
load of ``--load-rows`` readings into polars. The last line printed is one JSON object.

    .venv/bin/python benchmarks/storage_backends.py --meters 500 --days 60     # quick
"""


from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pyarrow.compute as pc

from core.ids import meter_key
from pipeline.embedded import EmbeddedPostgres, timescaledb_installed
from storage.analytics import load_readings
from storage.migrate import migrate
from storage.queries import billing_readings, consumption, meter_readings
from storage.rollups import daily_summary, refresh_rollups
from storage.writer import write_rows

START = datetime(2025, 1, 1, tzinfo=UTC)  # replaced in main(): the data ends today (compress_after is relative)
BATCH = 5_000


def keys_of(n: int) -> list[int]:
    """The benchmark's meter keys (KAM, 10000001 …)."""
    return [meter_key("KAM", f"{10_000_001 + i:08d}") for i in range(n)]


def day_frame(keys: pl.Series, day: int, totals: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """One day of hourly readings of every meter in time order, and the meters' register totals (litres) after."""
    n = len(keys)
    idx = pl.int_range(0, 24 * n, dtype=pl.Int64, eager=True)
    df = pl.DataFrame({"h": idx // n, "m": idx % n, "u": pl.Series(pc.random(24 * n, initializer=day * 2 + 1)),
                       "v": pl.Series(pc.random(24 * n, initializer=day * 2 + 2))})
    local = (pl.col("h") + 1) % 24
    rate = pl.when((local >= 6) & (local < 23)).then(24.0).otherwise(2.0)  # litres/hour × 2, day vs night
    litres = pl.when(pl.col("v") < 0.6).then((pl.col("u") * rate).floor()).otherwise(0.0).cast(pl.Int64)
    key = pl.lit(keys).gather(pl.col("m"))
    t0 = int((START + timedelta(days=day)).timestamp() * 1_000_000)
    measured = t0 + pl.col("h") * 3_600_000_000 + (key % 3_600) * 1_000_000
    df = df.with_columns(litres.alias("l")).with_columns(
        (pl.lit(totals).gather(pl.col("m")) + pl.col("l").cum_sum().over("m")).alias("tot"))
    out = df.select(
        key.alias("meter_key"),
        measured.cast(pl.Datetime("us", "UTC")).alias("measured_at"),
        (measured + 50_000 + (pl.col("u") * 1_950_000).cast(pl.Int64)).cast(pl.Datetime("us", "UTC"))
        .alias("received_at"),
        (pl.col("tot") / 1000.0).alias("total_m3"),
        (pl.col("l") / 1000.0).alias("flow_m3h"),
        pl.lit(0, dtype=pl.Int32).alias("alarms"),
        pl.lit(0, dtype=pl.Int16).alias("source"),
        ((day * 24 + pl.col("h")) % 256).cast(pl.Int16).alias("access_number"),
    )
    return out, df.filter(pl.col("h") == 23).sort("m")["tot"]


def registry(conn: psycopg.Connection, keys: list[int]) -> None:
    """Meters, one service point each, installed at the start."""
    with conn.cursor() as cur:
        with cur.copy("COPY meters (meter_key, manufacturer, meter_id, q3_m3h) FROM STDIN") as copy:
            for i, k in enumerate(keys):
                copy.write_row((k, "KAM", f"{10_000_001 + i:08d}", 2.5))
        with cur.copy("COPY service_points (id, area) FROM STDIN") as copy:
            for i in range(len(keys)):
                copy.write_row((f"SP{i}", f"area-{i % 20}"))
        with cur.copy("COPY installations (service_point_id, meter_key, installed_at) FROM STDIN") as copy:
            for i, k in enumerate(keys):
                copy.write_row((f"SP{i}", k, START - timedelta(days=1)))
    conn.commit()


def _rows(df: pl.DataFrame) -> list[tuple[object, ...]]:
    """Writer rows (``storage.writer.READING_COLUMNS`` order) of a frame."""
    return [(k, m, r, t, None, None, None, f, a, s, n) for k, m, r, t, f, a, s, n in df.select(
        "meter_key", "measured_at", "received_at", "total_m3", "flow_m3h", "alarms", "source",
        "access_number").iter_rows()]


def analyze(url: str, now: datetime, extra: list[str]) -> dict[str, float]:
    """``odczyt analyze`` in a child process as of ``now``: seconds and the child's peak RSS (GiB)."""
    import resource
    import subprocess

    cmd = [sys.executable, "-m", "pipeline", "analyze", "--db-url", url, "--now", now.isoformat(), *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"odczyt analyze failed: {proc.stderr[-2000:]}")
    return {"s": round(time.perf_counter() - t, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2)}


def load(url: str, keys: list[int], days: int, writer_days: int, backend: str,
         analyze_shards: int = 0) -> dict[str, object]:
    """Bulk-load all but the last ``writer_days`` days by ADBC COPY, run the backend's upkeep (older chunks get
    compressed, rollups refreshed), then write the last days through the writer as live ingest does (timed)."""
    import adbc_driver_postgresql.dbapi as adbc

    karr = pl.Series(keys, dtype=pl.Int64)
    totals = (pl.Series(pc.random(len(keys), initializer=17)) * 2_000_000 + 10_000).cast(pl.Int64)
    out: dict[str, object] = {}
    t = time.perf_counter()
    with adbc.connect(url) as bulk:
        for day in range(days - writer_days):
            df, totals = day_frame(karr, day, totals)
            with bulk.cursor() as cur:
                cur.adbc_ingest("readings", df.to_arrow(), mode="append")
            bulk.commit()
    bulk_rows = (days - writer_days) * 24 * len(keys)
    out["bulk_rows"] = bulk_rows
    out["bulk_rows_per_s"] = round(bulk_rows / (time.perf_counter() - t)) if bulk_rows else 0
    with psycopg.connect(url, autocommit=True) as conn:
        out.update(upkeep(conn, backend))
        if analyze_shards:  # every rule over the history (sharded), as of the end of the bulk-loaded days
            out["analyze_full"] = analyze(url, START + timedelta(days=days - writer_days),
                                          ["--shards", str(analyze_shards)])
        writer_s = writer_rows = 0.0
        for day in range(days - writer_days, days):
            df, totals = day_frame(karr, day, totals)
            rows = _rows(df)
            t = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                write_rows(conn, reading_rows=rows[i:i + BATCH], dedupe_window_s=120)
            writer_s += time.perf_counter() - t
            writer_rows += len(rows)
        if backend == "native":  # what the ingest workers' maintenance does between batches
            while refresh_rollups(conn, max_hours=1000):
                pass
    out["writer_rows"] = writer_rows
    out["writer_rows_per_s"] = round(writer_rows / writer_s) if writer_s else 0
    if analyze_shards:  # after the writer's days: the incremental run (every meter has new data)
        out["analyze_incremental"] = analyze(url, START + timedelta(days=days),
                                             ["--shards", str(analyze_shards), "--incremental"])
    return out


def upkeep(conn: psycopg.Connection, backend: str) -> dict[str, float]:
    """The backend's own upkeep after loading: compression + cagg refresh, or the native rollup refresh."""
    t = time.perf_counter()
    out: dict[str, float] = {}
    if backend == "timescaledb":
        for (job,) in conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = "
                                   "'policy_compression' AND hypertable_name = 'readings'").fetchall():
            conn.execute("CALL run_job(%s)", (job,))
        out["compress_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        for view in ("readings_hourly", "readings_daily"):
            conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, now() - interval '1 hour')")
        out["rollups_s"] = round(time.perf_counter() - t, 1)
    else:  # the bulk COPY bypassed the writer, which marks hours dirty: mark them all
        conn.execute("INSERT INTO rollup_dirty SELECT DISTINCT date_bin('1 hour', measured_at, "
                     "'2000-01-01 00:00+00') FROM readings ON CONFLICT DO NOTHING")
        while refresh_rollups(conn, max_hours=1000):
            pass
        out["rollups_s"] = round(time.perf_counter() - t, 1)
    conn.execute("VACUUM ANALYZE")
    return out


def size_per_reading(conn: psycopg.Connection, backend: str) -> dict[str, float]:
    """Bytes on disk of ``readings`` (table, indexes, TOAST; every partition/chunk, compressed included): as the
    compression policy leaves them, then (TimescaleDB) with every chunk compressed."""
    out: dict[str, float] = {}
    if backend == "timescaledb":
        total = conn.execute("SELECT hypertable_size('readings')").fetchone()[0]  # type: ignore[index]
        out["bytes_per_reading_policy"] = round(total / conn.execute(
            "SELECT count(*) FROM readings").fetchone()[0], 1)  # type: ignore[index]
        conn.execute("SELECT count(compress_chunk(c, true)) FROM show_chunks('readings') c")
        conn.execute("VACUUM ANALYZE readings")
        total = conn.execute("SELECT hypertable_size('readings')").fetchone()[0]  # type: ignore[index]
        stats = conn.execute("SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes) "
                             "FROM chunk_compression_stats('readings')").fetchone()
    else:
        total = conn.execute("SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('readings')"
                             ).fetchone()[0]  # type: ignore[index]
        stats = None
    n = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    out.update({"readings": n, "bytes": int(total), "bytes_per_reading": round(total / n, 1)})
    if stats and stats[0]:
        out["compression_ratio"] = round(stats[0] / stats[1], 1)
    return out


def p99(fn: Callable[[int], object], samples: int) -> dict[str, float]:
    """Milliseconds: p50 and p99 of ``samples`` calls of ``fn(i)``."""
    times = []
    for i in range(samples):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(times[min(len(times) - 1,
                                                                              int(len(times) * 0.99))], 2)}


def queries(url: str, keys: list[int], days: int, samples: int) -> dict[str, object]:
    """Latencies of the API's storage queries on the loaded data."""
    rnd = random.Random(5)
    end = START + timedelta(days=days)
    year0 = max(START, end - timedelta(days=365))
    out: dict[str, object] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        out["consumption_year_daily"] = p99(lambda _: consumption(
            conn, start=year0, end=end, interval="day", service_point=f"SP{rnd.randrange(len(keys))}"), samples)
        month0 = end - timedelta(days=30)
        out["meter_readings_month"] = p99(lambda _: meter_readings(
            conn, meter_key=keys[rnd.randrange(len(keys))], start=month0, end=end), samples)
        cutoff = end - timedelta(days=1, seconds=1)
        t = time.perf_counter()
        billed = billing_readings(conn, at=cutoff)
        out["billing_cutoff_s"] = round(time.perf_counter() - t, 3)
        out["billing_meters"] = len(billed)
        t = time.perf_counter()
        days_rows = daily_summary(conn, start=month0, end=end)
        out["dashboard_month_s"] = round(time.perf_counter() - t, 3)
        out["dashboard_days"] = len(days_rows)
    return out


def adbc_load(url: str, rows: int, n_meters: int) -> dict[str, float]:
    """Load about ``rows`` readings (the first hours of every meter) into polars, 2 connections."""
    until = START + timedelta(hours=rows // max(1, n_meters))
    t = time.perf_counter()
    df = load_readings(url, until=until, ordered=False, parallel=2)
    s = time.perf_counter() - t
    return {"adbc_rows": df.height, "adbc_rows_per_s": round(df.height / s)}


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, object]:
    """Start a server of ``backend``, load, upkeep, measure; remove it."""
    base = Path(tempfile.mkdtemp(prefix=f"odczyt-storage-{backend}-", dir=args.workdir))
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base, timescaledb=backend == "timescaledb").start()
    keys = keys_of(args.meters)
    try:
        migrate(pg.url)
        with psycopg.connect(pg.url) as conn:
            registry(conn, keys)  # native: the monthly partitions a year of operation would have made
            conn.execute("SELECT odczyt_ensure_partitions(p, 3, %s) FROM unnest(ARRAY['readings', 'raw_frames']) p",
                         (args.days // 28 + 2,))
            conn.commit()
        result: dict[str, object] = {"backend": backend}
        result.update(load(pg.url, keys, args.days, args.writer_days, backend, args.analyze_shards))
        result.update(queries(pg.url, keys, args.days, args.samples))  # as the policies leave the data
        with psycopg.connect(pg.url, autocommit=True) as conn:
            result.update(size_per_reading(conn, backend))
        if args.load_rows:
            result.update(adbc_load(pg.url, args.load_rows, args.meters))
        return result
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def _backends(wanted: str) -> Iterator[str]:
    for b in wanted.split(","):
        if b == "timescaledb" and not timescaledb_installed():
            print("timescaledb: not installed, skipped")
            continue
        yield b


def main() -> None:
    """Command line: every backend in turn, a table, then one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--writer-days", type=int, default=2, help="days written through the writer (timed)")
    ap.add_argument("--samples", type=int, default=200, help="calls per latency figure")
    ap.add_argument("--load-rows", type=int, default=10_000_000, help="ADBC load size (0: skip)")
    ap.add_argument("--backends", default="native,timescaledb")
    ap.add_argument("--workdir", default=None, help="where the servers' data directories go")
    ap.add_argument("--analyze-shards", type=int, default=0,
                    help="also time odczyt analyze --shards N (full, then --incremental after the writer's days)")
    args = ap.parse_args()
    global START
    START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=args.days)
    results = []
    for backend in _backends(args.backends):
        t = time.perf_counter()
        res = bench_backend(backend, args)
        res["total_s"] = round(time.perf_counter() - t, 1)
        results.append(res)
        print(f"{backend}: " + ", ".join(f"{k} {v}" for k, v in res.items() if k != "backend"), flush=True)
    print(json.dumps({"meters": args.meters, "days": args.days, "readings": args.meters * args.days * 24,
                      "results": results}, separators=(",", ":"), default=str))


if __name__ == "__main__":
    main()
