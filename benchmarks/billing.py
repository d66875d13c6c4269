"""A billing run over a generated town: ``storage.billing_runs.create_run`` for October 2026 (Europe/Warsaw, 745 h).

    .venv/bin/python benchmarks/billing.py [--service-points 2000] [--history-days 92]

Starts an embedded PostgreSQL, migrates it, fills N service points each with one meter read hourly from
``--history-days`` before 1 October to 3 November at a known constant rate (so the true consumption of every
line is known), with injected faults: every 10th meter silent from 20 October (estimated), every 50th wrapping
its five-digit register in the period (rollover), every 23rd stale from 26 October (meter clock 3 days
behind), and a tariff change on 13 October. Prints the run's wall time, the process's peak RSS, the share of
lines per basis, the error of estimated lines against the truth, whether every actual line is exact and every
injected fault flagged; last line one JSON object. (Meter replacements are covered by the scenario tests,
not generated here.)
"""


from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from core.billing_rules import Thresholds
from pipeline.embedded import EmbeddedPostgres
from storage.billing_runs import create_run, lines
from storage.migrate import migrate

FIRST, LAST = date(2026, 10, 1), date(2026, 10, 31)
HOURS = 745  # October 2026 in Warsaw: the clocks go back on the 25th


def fill(conn: psycopg.Connection, n: int, history_days: int) -> None:
    """Meters, service points, installations and hourly readings generated in SQL."""
    for sql in (
        "INSERT INTO meters (meter_key, manufacturer, meter_id, q3_m3h)"
        " SELECT 1000000 + i, 'KAM', lpad(i::text, 8, '0'), 2.5 FROM generate_series(1, %(n)s) i",
        "INSERT INTO service_points (id, area) SELECT 'SP-' || lpad(i::text, 7, '0'), 'a' || (i %% 10)"
        " FROM generate_series(1, %(n)s) i",
        "INSERT INTO installations (service_point_id, meter_key, installed_at, initial_m3)"
        " SELECT 'SP-' || lpad(i::text, 7, '0'), 1000000 + i, '2025-01-01Z', 0 FROM generate_series(1, %(n)s) i",
    ):
        conn.execute(sql, {"n": n})
    conn.execute("""
        INSERT INTO readings (meter_key, measured_at, received_at, total_m3)
        SELECT 1000000 + i, t,
               t + CASE WHEN i %% 23 = 0 AND t >= '2026-10-25T23:00Z' THEN interval '3 days' ELSE '0' END,
               CASE WHEN i %% 50 = 0  -- wraps through 100,000 on 16 October
                    THEN mod((100000 + (0.004 + (i %% 17) * 0.001)
                              * (extract(epoch FROM t - '2026-10-01Z') / 3600 - 360))::numeric, 100000)::float8
                    ELSE 10 + (0.004 + (i %% 17) * 0.001) * extract(epoch FROM t - %(t0)s::timestamptz) / 3600
               END
          FROM generate_series(1, %(n)s) i,
               generate_series(%(t0)s::timestamptz, '2026-11-03Z', interval '1 hour') t
         WHERE NOT (i %% 10 = 0 AND i %% 23 <> 0 AND t >= '2026-10-20Z')
    """, {"n": n, "t0": _t0(history_days)})
    conn.execute("ANALYZE")


def _t0(history_days: int) -> str:
    return (datetime(2026, 10, 1, tzinfo=UTC) - timedelta(days=history_days)).isoformat()


def judge(conn: psycopg.Connection, run_id: int) -> dict[str, object]:
    """Compare every line with the generated truth."""
    bases: Counter[str] = Counter()
    errors: list[float] = []
    inexact = missed = 0
    for ln in lines(conn, run_id):
        i = int(ln["service_point_id"][3:])
        truth = (0.004 + (i % 17) * 0.001) * HOURS
        bases[ln["basis"].split(":")[0]] += 1
        flags = set(ln["flags"])
        if (i % 50 == 0 and "rollover" not in flags) or (i % 23 == 0 and "stale" not in flags):
            missed += 1
        if ln["consumption_m3"] is None:
            continue
        if ln["basis"] == "actual" and abs(ln["consumption_m3"] - truth) > 1e-6:
            inexact += 1
        elif ln["basis"] != "actual":
            errors.append(abs(ln["consumption_m3"] - truth) / truth)
    total = sum(bases.values())
    return {"lines": total, "basis_share": {k: round(v / total, 4) for k, v in sorted(bases.items())},
            "actual_inexact": inexact, "faults_unflagged": missed,
            "estimate_rel_error_max": round(max(errors), 4) if errors else None,
            "estimate_rel_error_mean": round(sum(errors) / len(errors), 4) if errors else None}


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-points", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=92)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="odczyt-bench-"))
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base).start()
    try:
        migrate(pg.url)
        with psycopg.connect(pg.url, autocommit=True) as conn:
            t = time.perf_counter()
            fill(conn, args.service_points, args.history_days)
            filled = time.perf_counter() - t
            rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
            print(f"{args.service_points:,} service points, {rows:,} readings (filled in {filled:.1f} s)")
            t = time.perf_counter()
            run = create_run(conn, first=FIRST, last=LAST, selection={"all": True},
                             tariffs=[(date(2026, 1, 1), "T1"), (date(2026, 10, 13), "T2")], th=Thresholds(),
                             actor="bench", history_days=args.history_days + 5,
                             now=datetime(2026, 12, 1, tzinfo=UTC))
            wall = time.perf_counter() - t
            result = judge(conn, run["id"])
    finally:
        pg.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"run: {wall:.1f} s, peak RSS {peak:.0f} MiB; {result}")
    print(json.dumps({"benchmark": "billing", "service_points": args.service_points, "readings": rows,
                      "run_s": round(wall, 2), "peak_rss_mib": round(peak), **result}))


if __name__ == "__main__":
    main()
