"""The alert queue's cost: ``storage.alerts.list_alerts`` (one page with the subject joins) over many alerts.

    .venv/bin/python benchmarks/alert_queue.py [--alerts 200000] [--calls 50]

Starts an embedded PostgreSQL, migrates it, fills meters, service points and alerts (one in ten open) with
``generate_series`` and times each query shape ``--calls`` times; prints p50/p99 per shape and, last, one JSON
line.
"""


from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks._common import migrated_postgres, p50_p99
from storage import alerts as store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fill(conn: psycopg.Connection, n: int) -> None:
    """``n`` service points, meters and alerts (kinds rotating, every tenth open, one minute apart)."""
    conn.execute("INSERT INTO service_points (id, address, area) SELECT 'SP' || g, 'ul. ' || g, 'A' || (g %% 20) "
                 "FROM generate_series(1, %s) g", (n,))
    conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) SELECT g, 'KAM', lpad(g::text, 8, '0') "
                 "FROM generate_series(1, %s) g", (n,))
    conn.execute(
        """INSERT INTO alerts (kind, subject, meter_key, service_point_id, area, severity, state, dedupe_key,
                               detected_at, opened_at)
           SELECT (ARRAY['silent', 'continuous_flow', 'stuck', 'never_heard'])[1 + g %% 4], 'm:' || g, g,
                  'SP' || g, 'A' || (g %% 20), 'warning', CASE WHEN g %% 10 = 0 THEN 'open' ELSE 'resolved' END,
                  'x', %(t0)s + g * interval '1 minute', %(t0)s + g * interval '1 minute'
             FROM generate_series(1, %(n)s) g""",
        {"t0": T0, "n": n},
    )
    conn.commit()
    conn.execute("ANALYZE")


def time_shapes(conn: psycopg.Connection, n: int, calls: int) -> dict[str, dict[str, float]]:
    """p50/p99 in ms of each query shape."""
    shapes: dict[str, dict[str, Any]] = {
        "newest_first": {},
        "open": {"state": "open"},
        "open_in_area": {"state": "open", "area": "A3"},
        "service_point": {"service_point_id": "SP777"},
        "meter": {"manufacturer": "KAM", "meter_id": "00000777"},
        "keyset_page": {"state": "open", "after": (T0 + timedelta(minutes=n - 1000), n - 1000)},
    }
    out = {}
    for name, kwargs in shapes.items():
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            store.list_alerts(conn, limit=101, **kwargs)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = p50_p99(times, 2)
        print(f"{name:16s} p50 {out[name]['p50_ms']:7.2f} ms   p99 {out[name]['p99_ms']:7.2f} ms")
    return out


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with migrated_postgres() as (url, _), psycopg.connect(url) as conn:
        fill(conn, args.alerts)
        print(f"{args.alerts:,} alerts ({args.alerts // 10:,} open), {args.alerts:,} meters and service points")
        result = time_shapes(conn, args.alerts, args.calls)
    print(json.dumps({"benchmark": "alert_queue", "alerts": args.alerts, "calls": args.calls, **result}))


if __name__ == "__main__":
    main()
