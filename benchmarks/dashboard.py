"""The dashboard at utility scale: overview, map data and alert queue on the real server, and the map page's
load until drawn in headless Chromium.

    .venv/bin/python benchmarks/dashboard.py [--points 100000] [--days 31] [--alerts 20000] [--calls 30]

Starts an embedded PostgreSQL, migrates it and loads, with binary COPY through ``storage.writer_copy.copy_rows``:
``--points`` service points (20 areas, positions around Kraków) each with one meter (one in ten read by
drive-by) and installation, **daily** readings of the last ``--days`` days for 95 % of the meters (the other 5 %
are never read), and ``--alerts`` alerts (one in four unresolved); 30 gateways through
``storage.gateways.record_online``. Then ``odczyt serve`` (1 worker, rate limit off) is timed with ``--calls``
sequential requests per endpoint (p50/p99), and Chromium loads ``/ui/map`` (logged in) three times until the
canvas is painted. Prints the figures; the last line is one JSON object. Targets: p99 < 300 ms, map < 3 s.
"""

# ruff: noqa: E402  (sys.path is mended before the project imports: see below)
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
import psycopg

from api.auth_admin import issue_api_key
from api.auth_credentials import hash_password
from benchmarks._common import migrated_postgres, p50_p99
from storage import auth, gateways
from storage.registry import Meter
from storage.writer_copy import copy_rows
from tests.api.serving import run_server

USER, PASSWORD = "bench-dispatcher", "bench-password-1"


def _registry(cur: psycopg.Cursor, n: int, now: datetime, rng: random.Random) -> list[int]:
    points, meters, inst = [], [], []
    for i in range(n):
        sp = f"SP{i:06d}"
        points.append((sp, f"ul. Testowa {i % 300 + 1}/{i // 300 + 1}", f"C{i:07d}", 49.98 + rng.random() * 0.14,
                       19.80 + rng.random() * 0.30, f"A{i % 20:02d}", True))
        m = Meter(manufacturer="KAM", meter_id=f"{i:08d}", q3_m3h=2.5, read_mode="driveby" if i % 10 == 0 else "fixed",
                  legalization_mark_type="expiry", legalization_mark_value=str(2024 + i % 8))
        meters.append((m.meter_key, m.manufacturer, m.meter_id, m.q3_m3h, m.read_mode, m.legalization_mark_type,
                       m.legalization_mark_value, m.legal_valid_until))
        inst.append((sp, m.meter_key, now - timedelta(days=800), 0.0))
    copy_rows(cur, "service_points", ("id", "address", "customer_ref", "lat", "lon", "area", "occupied"),
              ("text", "text", "text", "float8", "float8", "text", "bool"), points)
    copy_rows(cur, "meters", ("meter_key", "manufacturer", "meter_id", "q3_m3h", "read_mode",
                              "legalization_mark_type", "legalization_mark_value", "legal_valid_until"),
              ("int8", "text", "text", "float8", "text", "text", "text", "date"), meters)
    copy_rows(cur, "installations", ("service_point_id", "meter_key", "installed_at", "initial_m3"),
              ("text", "int8", "timestamptz", "float8"), inst)
    return [m[0] for m in meters]


def _readings(cur: psycopg.Cursor, keys: list[int], now: datetime, days: int) -> int:
    start = (now - timedelta(days=days)).replace(hour=2, minute=0, second=0, microsecond=0)
    read = [k for i, k in enumerate(keys) if i % 20 != 7]  # 5 % never read

    def rows() -> Any:
        for k in read:
            total = 100.0
            for d in range(days):
                at = start + timedelta(days=d)
                if at >= now:
                    break
                total += 0.3
                yield (k, at, at, total, 0, 0)
    count = 0
    with cur.copy("COPY readings (meter_key, measured_at, received_at, total_m3, alarms, source) FROM STDIN "
                  "(FORMAT BINARY)") as copy:
        copy.set_types(["int8", "timestamptz", "timestamptz", "float8", "int4", "int2"])
        for row in rows():
            copy.write_row(row)
            count += 1
    return count


def _alerts(cur: psycopg.Cursor, keys: list[int], n: int, now: datetime, rng: random.Random) -> None:
    kinds = ["continuous_flow", "silent", "stuck", "night_flow", "reverse_flow", "legalization_due"]
    rows = []
    for j in range(n):
        i = (j * 7919) % len(keys)  # distinct meters while n <= len(keys) (7919 is prime)
        at = now - timedelta(minutes=n - j)
        state = ("open", "acknowledged", "resolved", "resolved", "resolved", "resolved", "resolved", "resolved")[j % 8]
        rows.append((kinds[j % len(kinds)], f"m:{keys[i]}", keys[i], f"SP{i:06d}", f"A{i % 20:02d}",
                     "critical" if j % 7 == 0 else "warning", state, f"b{j}", at, at))
    copy_rows(cur, "alerts", ("kind", "subject", "meter_key", "service_point_id", "area", "severity", "state",
                              "dedupe_key", "detected_at", "opened_at"),
              ("text", "text", "int8", "text", "text", "text", "text", "text", "timestamptz", "timestamptz"), rows)


def load(url: str, args: argparse.Namespace) -> str:
    """Fill the database; returns an operations API key."""
    now, rng = datetime.now(UTC), random.Random(15)
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            keys = _registry(cur, args.points, now, rng)
            n = _readings(cur, keys, now, args.days)
            _alerts(cur, keys, args.alerts, now, rng)
        for g in range(30):
            gateways.record_online(conn, gateway_id=f"gw-{g:02d}", at=now, watchdog_resets=0, status={},
                                   figures={"frames_per_min": 40.0, "spool_depth": 0, "lat": 49.99 + 0.02 * (g % 6),
                                            "lon": 19.82 + 0.05 * (g // 6)})
        auth.add_user(conn, name=USER, role="operations", password_hash=hash_password(PASSWORD))
        key, _ = issue_api_key(conn, name="bench", role="operations", actor="bench")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {args.points:,} service points/meters, {n:,} daily readings, {args.alerts:,} alerts "
          f"in {time.perf_counter() - t:.1f} s")
    return key


def time_endpoints(base: str, key: str, calls: int) -> dict[str, dict[str, float]]:
    """p50/p99 in ms of each endpoint (sequential calls after two warm-ups), and the first call's time (the
    overview's and map's per-process snapshots are computed then: ``api.ui_snapshot``)."""
    paths = {"overview": "/v1/ui/overview", "dashboard_summary": "/v1/dashboard/summary",
             "map_data": "/v1/ui/map-data", "map_data_area": "/v1/ui/map-data?area=A03",
             "alert_queue": "/v1/alerts?limit=50", "alert_queue_open": "/v1/alerts?state=open&limit=50",
             "alert_queue_area": "/v1/alerts?state=open&area=A04&limit=50"}
    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for name, path in paths.items():
            times, size = [], 0
            for i in range(calls + 2):
                t = time.perf_counter()
                resp = client.get(path)
                resp.raise_for_status()
                if i >= 2:
                    times.append((time.perf_counter() - t) * 1000)
                size = len(resp.content)
                if i == 0:
                    first = (time.perf_counter() - t) * 1000
            out[name] = {**p50_p99(times, 1), "bytes": size, "first_ms": round(first, 1)}
            print(f"{name:20s} p50 {out[name]['p50_ms']:7.1f} ms   p99 {out[name]['p99_ms']:7.1f} ms   "
                  f"first call {first:7.1f} ms   {size:,} B")
    return out


def time_map_page(base: str, loads: int = 3) -> dict[str, Any]:
    """Log in in headless Chromium and load /ui/map ``loads`` times: ms from navigation until painted."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(f"{base}/login")
        driver.find_element(By.ID, "name").send_keys(USER)
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 20).until(lambda d: d.current_url == f"{base}/")
        ms, drawn = [], 0
        for _ in range(loads):
            driver.get(f"{base}/ui/map")
            WebDriverWait(driver, 60).until(lambda d: d.execute_script("return window.odczytMap.ready"))
            ms.append(float(driver.execute_script("return window.odczytMap.readyAt")))
            drawn = int(driver.execute_script("return window.odczytMap.drawn"))
    finally:
        driver.quit()
    print(f"map page drawn in {statistics.median(ms):.0f} ms (median of {loads}, max {max(ms):.0f}), "
          f"{drawn:,} markers")
    return {"median_ms": round(statistics.median(ms)), "max_ms": round(max(ms)), "markers": drawn}


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with migrated_postgres() as (db_url, base_dir):
        key = load(db_url, args)
        env = {"ODCZYT_API__COOKIE_SECURE": "false", "ODCZYT_API__MAP_BASE": "none",
               "ODCZYT_API__RATE_LIMIT_PER_S": "0", "ODCZYT_API__ACCESS_LOG": "false"}
        with run_server(db_url, base_dir, env) as (url, _):
            endpoints = time_endpoints(url, key, args.calls)
            page = time_map_page(url)
    worst = max(v["p99_ms"] for k, v in endpoints.items() if k != "dashboard_summary")
    print(json.dumps({"benchmark": "dashboard", "points": args.points, "days": args.days, "readings": "daily",
                      "alerts": args.alerts, "calls": args.calls, "endpoints": endpoints, "map_page": page,
                      "target_met": worst < 300 and page["max_ms"] < 3000}))


if __name__ == "__main__":
    main()
