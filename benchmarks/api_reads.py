"""Benchmark of the API's main reads through the real server (``odczyt serve``, with authentication).

Loads ``--meters`` × ``--days`` hourly readings (10,000 × 90 = 21.6 M rows by default) into an embedded
PostgreSQL whose cluster is kept in ``--cache`` between runs (reloaded only when the size differs). The
registry (meters, service points, installations) goes in through the project's CSV import; the readings by
binary COPY (ADBC ``adbc_ingest`` of Arrow tables made with polars), not through the ingest writer, which
would spend most of the time on per-reading Python objects. Then it starts ``odczyt serve`` (``--workers``,
rate limit off, an admin API key) and drives it with ``wrk`` (C, a single thread, its own process: the load
generator does not take a server core for Python work) at each ``--concurrency`` for ``--seconds``:

* ``meter_readings``: one meter's readings for the whole loaded range (``--days``), a random meter each time;
* ``service_point_daily``: one service point's daily consumption for a year, a random service point;
* ``billing_page``: a billing cut-off page of 10,000 meters.

Prints a table and, as the last line, one JSON object with every figure.

    .venv/bin/python benchmarks/api_reads.py --meters 500 --days 30 --seconds 5   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import psycopg
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.ids import meter_key  # noqa: E402
from pipeline.embedded import EmbeddedPostgres  # noqa: E402
from storage.migrate import migrate  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)  # the loaded range ends here (local midnight is 23:00 UTC the day before)
CHUNK_METERS = 250


def _meter_ids(n: int) -> list[str]:
    return [f"{i:08d}" for i in range(1, n + 1)]


def _load_registry(url: str, n: int, work: Path) -> None:
    from pipeline.registry_import import import_meters_csv

    path = work / "meters.csv"
    lines = [f"KAM,{mid},SP-{mid},2020-01-01T00:00:00Z,0" for mid in _meter_ids(n)]
    path.write_text("manufacturer,meter_id,service_point_id,installed_at,initial_m3\n" + "\n".join(lines) + "\n")
    import_meters_csv(url, path, master_key=None)


def _batches(n: int, days: int) -> Iterator[pa.Table]:
    hours = days * 24
    start = END - timedelta(hours=hours)
    keys = [meter_key("KAM", mid) for mid in _meter_ids(n)]
    hour = pl.DataFrame({"h": pl.arange(0, hours, eager=True)})
    for lo in range(0, n, CHUNK_METERS):
        frame = pl.DataFrame({"meter_key": keys[lo:lo + CHUNK_METERS]}).join(hour, how="cross")
        # a hash of (meter, hour) as the hour's use, 0–0.05 m³ with most hours near zero: cheap and repeatable
        mix = (pl.col("meter_key").hash(7) ^ pl.col("h").hash(11)) % 10_000
        frame = frame.with_columns(use=(mix.cast(pl.Float64) / 10_000) ** 4 * 0.05).with_columns(
            total_m3=pl.col("use").cum_sum().over("meter_key") + (pl.col("meter_key") % 900).cast(pl.Float64),
            measured_at=pl.lit(start).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
            + pl.duration(hours=pl.col("h")))
        yield frame.select("meter_key", "measured_at", pl.col("measured_at").alias("received_at"), "total_m3",
                           pl.col("use").alias("flow_m3h")).to_arrow()


def load(url: str, n: int, days: int, work: Path) -> dict[str, float]:
    """Migrate, import the registry, COPY the readings; returns timings."""
    import adbc_driver_postgresql.dbapi as adbc

    from storage.migrate import migrate

    migrate(url)
    t = time.perf_counter()
    _load_registry(url, n, work)
    registry_s = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:  # monthly partitions over the loaded range
        months_back = days // 28 + 2
        conn.execute("SELECT odczyt_ensure_partitions('readings', 1, %s)", (months_back,))
    t = time.perf_counter()
    rows = 0
    with adbc.connect(url) as conn, conn.cursor() as cur:
        for batch in _batches(n, days):
            rows += cur.adbc_ingest("readings", batch, mode="append")
            conn.commit()
    copy_s = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        vacuum_s = time.perf_counter() - t
        conn.execute("CREATE TABLE IF NOT EXISTS bench_api_loaded (meters int, days int)")
        conn.execute("DELETE FROM bench_api_loaded")
        conn.execute("INSERT INTO bench_api_loaded VALUES (%s, %s)", (n, days))
    return {"rows": rows, "registry_s": round(registry_s, 1), "copy_s": round(copy_s, 1),
            "copy_rows_per_s": round(rows / copy_s), "vacuum_analyze_s": round(vacuum_s, 1)}


def _loaded(url: str) -> tuple[int, int] | None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT meters, days FROM bench_api_loaded").fetchone()
            return (int(row[0]), int(row[1])) if row else None
    except psycopg.Error:
        return None


@contextlib.contextmanager
def database(cache: Path, n: int, days: int) -> Iterator[tuple[str, dict[str, float] | None]]:
    """The cached cluster, (re)loaded when it does not hold ``n`` × ``days``."""
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o755)
    pg = EmbeddedPostgres(cache).start()
    try:
        url = pg.url_for("bench_api")
        timings = None
        if _loaded(url) != (n, days):
            with psycopg.connect(pg.url, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS bench_api WITH (FORCE)")
                conn.execute("CREATE DATABASE bench_api")
            with tempfile.TemporaryDirectory() as work:
                timings = load(url, n, days, Path(work))
        else:
            migrate(url)  # a cluster cached by an older version: its schema is brought up to date (readyz)
        yield url, timings
    finally:
        pg.stop()


@contextlib.contextmanager
def server(url: str, workers: int, work: Path) -> Iterator[tuple[str, str]]:
    """``odczyt serve`` on a free port with rate limiting off; yields (base URL, admin API key)."""
    from api.auth_admin import issue_api_key
    from tests.api.serving import run_server

    with psycopg.connect(url, autocommit=True) as conn:
        key, _ = issue_api_key(conn, name=f"bench-{os.getpid()}-{time.time_ns()}", role="admin", actor="bench")
    env = {"ODCZYT_API__RATE_LIMIT_PER_S": "0", "ODCZYT_API__ACCESS_LOG": "false"}
    with run_server(url, work, env, workers=workers, ready_timeout_s=60) as (base, _):
        yield base, key


_LUA = """
math.randomseed(%(seed)d)
local n = %(n)d
request = function()
  local id = string.format("%%08d", math.random(1, n))
  local path = string.gsub("%(path)s", "{id}", id)
  return wrk.format("GET", path)
end
"""


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(base: str, key: str, path: str, n: int, concurrency: int, seconds: int, work: Path) -> dict[str, float]:
    """One wrk run; requests/s, p50/p99 latency in ms, errors (non-2xx and socket errors)."""
    script = work / "req.lua"
    script.write_text(_LUA % {"seed": concurrency, "n": n, "path": path})
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "30s",
           "-H", f"Authorization: Bearer {key}", "-s", str(script), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    pct = dict(re.findall(r"^\s+(\d+(?:\.\d+)?)%\s+(\S+)\s*$", out, re.M))
    if "50" not in pct or "99" not in pct:
        raise RuntimeError(f"wrk gave no latency distribution (no request completed?):\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": round(rps, 1), "p50_ms": round(_seconds(pct["50"]) * 1000, 1),
            "p99_ms": round(_seconds(pct["99"]) * 1000, 1), "errors": errors}


def endpoints(n: int, days: int) -> dict[str, str]:
    """The benchmarked request paths (``{id}`` is replaced by a random meter id per request)."""
    start = (END - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = END.strftime("%Y-%m-%dT%H:%M:%SZ")
    year_from = (END - timedelta(days=365, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    year_to = (END - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "meter_readings": f"/v1/meters/{{id}}/readings?manufacturer=KAM&from={start}&to={end}&limit=10000",
        "service_point_daily": f"/v1/service-points/SP-{{id}}/consumption?from={year_from}&to={year_to}"
                               "&interval=day&limit=10000",
        "billing_page": f"/v1/billing/readings?at={end}&limit={min(n, 10_000)}",
    }


def check(base: str, key: str, paths: dict[str, str], days: int) -> dict[str, int]:
    """One request of each kind, checked for size, so the figures are of real answers."""
    sizes = {}
    for name, path in paths.items():
        resp = httpx.get(base + path.replace("{id}", "00000001"), headers={"Authorization": f"Bearer {key}"},
                         timeout=60)
        resp.raise_for_status()
        items = resp.json()["items"]
        expect = {"meter_readings": days * 24, "service_point_daily": 365}.get(name)
        if expect is not None and len(items) != expect:
            raise SystemExit(f"{name}: {len(items)} items, expected {expect}")
        sizes[name] = len(resp.content)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "odczyt-bench-api")
    parser.add_argument("--only", default="", help="comma-separated endpoint names (default: all)")
    args = parser.parse_args()
    if args.meters < 1 or args.days < 1 or shutil.which("wrk") is None:
        parser.error("--meters and --days must be positive, and wrk must be installed (apt-get install wrk)")
    levels = [int(c) for c in args.concurrency.split(",")]
    t0 = time.perf_counter()
    with database(args.cache, args.meters, args.days) as (url, loaded), \
            tempfile.TemporaryDirectory() as tmp, server(url, args.workers, Path(tmp)) as (base, key):
        work = Path(tmp)
        if loaded:
            print(f"loaded {loaded['rows']:,} readings by COPY in {loaded['copy_s']} s "
                  f"({loaded['copy_rows_per_s']:,}/s), registry {loaded['registry_s']} s", flush=True)
        paths = endpoints(args.meters, args.days)
        if args.only:
            paths = {k: v for k, v in paths.items() if k in args.only.split(",")}
        sizes = check(base, key, paths, args.days)
        results: dict[str, dict[str, dict[str, float]]] = {}
        print(f"{'endpoint':22} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for name, path in paths.items():
            for c in levels:
                r = run_wrk(base, key, path, args.meters, c, args.seconds, work)
                results.setdefault(name, {})[str(c)] = r
                print(f"{name:22} {c:>4} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>6}",
                      flush=True)
    target = {name: results[name]["16"]["p99_ms"] < 100 for name in ("meter_readings", "service_point_daily")
              if name in results and "16" in results[name]}
    print(json.dumps({"meters": args.meters, "days": args.days, "rows": args.meters * args.days * 24,
                      "workers": args.workers, "seconds_per_run": args.seconds, "load": loaded,
                      "response_bytes": sizes, "results": results, "p99_under_100ms_at_16": target,
                      "wall_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
