"""Sharded, multi-process and incremental analysis give the whole-fleet run's detections (synthetic data with
the injected faults of benchmarks/analytics.py, written through PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import psycopg
import pytest

from alerts.config import RuleConfig
from alerts.engine import RULES
from benchmarks.analytics import START, generate
from pipeline.analyze import run_analysis
from pipeline.analyze_shards import FleetEvaluation, plan_shards, run_rules

pytestmark = pytest.mark.services
METERS, DAYS = 400, 60
NOW = START + timedelta(days=DAYS, hours=1)
FAR = 10_000_000  # a replacement meter whose key lies in another key range than its predecessor's


def _fill(db_url: str) -> None:
    readings, meters, points, _ = generate(METERS, DAYS)
    keys = meters["meter_key"].to_list()
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY meters (meter_key, manufacturer, meter_id, q3_m3h, legalization_mark_type, "
                      "legalization_mark_value) FROM STDIN") as copy:
            for k, q3, t, v in meters.select("meter_key", "q3_m3h", "legalization_mark_type",
                                             "legalization_mark_value").iter_rows():
                copy.write_row((k, "KAM", f"{k:08d}", q3, t, v))
            copy.write_row((FAR, "KAM", f"{FAR:08d}", 2.5, "mid", "M24"))
        with cur.copy("COPY service_points (id, area, occupied) FROM STDIN") as copy:
            for sp, area, occ in points.select("service_point_id", "area", "occupied").iter_rows():
                copy.write_row((sp, area, occ))
        swap = START + timedelta(days=DAYS // 2)
        cur.execute("INSERT INTO installations (service_point_id, meter_key, installed_at, removed_at) "
                    "SELECT 'SP' || k, k, %s, CASE WHEN k = %s THEN %s::timestamptz END FROM unnest(%s::bigint[]) k",
                    (START, keys[0], swap, keys))
        cur.execute("INSERT INTO installations (service_point_id, meter_key, installed_at) VALUES (%s, %s, %s)",
                    (f"SP{keys[0]}", FAR, swap))
        far = readings.filter(pl.col("meter_key") == keys[0], pl.col("measured_at") >= swap)
        rows = pl.concat([readings.filter(~((pl.col("meter_key") == keys[0]) & (pl.col("measured_at") >= swap))),
                          far.with_columns(pl.lit(FAR, dtype=pl.Int64).alias("meter_key"),
                                           pl.col("total_m3") - far["total_m3"][0] + 0.01)])
        with cur.copy("COPY readings (meter_key, measured_at, received_at, total_m3, backward_m3, flow_m3h, alarms, "
                      "source) FROM STDIN") as copy:
            for r in rows.iter_rows():
                copy.write_row((r[0], r[1], r[1], *r[2:]))


def _sorted(ev: FleetEvaluation) -> pl.DataFrame:
    return ev.detections.with_columns(pl.col("evidence").cast(pl.String)).sort(
        "kind", "meter_key", "service_point_id", "started_at", nulls_last=True)


def _run(db_url: str, **kw: object) -> FleetEvaluation:
    ev, _ = run_rules(db_url, now=NOW, cfg=RuleConfig(), rules=RULES, lookback_days=400, **kw)  # type: ignore[arg-type]
    return ev


def test_shards_keep_a_service_points_meters_together(db_url: str) -> None:
    _fill(db_url)
    with psycopg.connect(db_url) as conn:
        shards = plan_shards(conn, 4)
    assert len(shards) == 4 and shards[0].lo is None and shards[-1].hi is None
    owners = [s for s in shards if FAR in s.extra]
    assert len(owners) == 1 and owners[0].hi is not None and owners[0].hi <= FAR  # pulled into its group's shard
    assert any(FAR in s.excluded for s in shards)


def test_sharded_and_multiprocess_runs_equal_the_whole_fleet_run(db_url: str) -> None:
    _fill(db_url)
    whole = _run(db_url)
    assert whole.detections.height > 20
    assert {"continuous_flow", "burst", "reverse_flow", "stuck", "silent"} <= set(whole.detections["kind"])
    for kw in ({"shards": 4}, {"shards": 3, "processes": 2}):
        part = _run(db_url, **kw)
        assert part.readings == whole.readings
        assert part.evaluated_meters == whole.evaluated_meters
        assert _sorted(part).equals(_sorted(whole)), kw


def test_incremental_run_evaluates_the_meters_with_new_data_like_a_full_run(db_url: str) -> None:
    _fill(db_url)
    first = run_analysis(db_url, now=NOW, lookback_days=400, registry=None, shards=2)
    assert first.raised
    later = NOW + timedelta(days=1)
    with psycopg.connect(db_url) as conn:  # one new day for ten meters; the rest go quiet
        conn.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3, source) "
                     "SELECT k, t, t, 5000 + extract(epoch FROM t) / 3.6e6, 0 FROM generate_series(1, 10) k, "
                     "generate_series(%s::timestamptz, %s, interval '1 hour') t", (NOW + timedelta(hours=1), later))
    inc, full = run_rules(db_url, now=later, cfg=RuleConfig(), rules=RULES, lookback_days=400, shards=2,
                          incremental=True, margin=timedelta(0))
    assert not full
    whole, _ = run_rules(db_url, now=later, cfg=RuleConfig(), rules=RULES, lookback_days=400)
    assert inc.evaluated_meters["continuous_flow"] == set(range(1, 11))
    assert inc.evaluated_meters["silent"] == whole.evaluated_meters["silent"]
    changed = pl.col("meter_key").is_in(list(range(1, 11))) | pl.col("kind").is_in(["silent", "never_heard",
                                                                                     "legalization_due",
                                                                                     "legalization_expired"])
    want = FleetEvaluation(whole.detections.filter(changed), {})
    assert _sorted(inc).equals(_sorted(want))
    report = run_analysis(db_url, now=later, lookback_days=400, registry=None, incremental=True,
                          incremental_margin=timedelta(0))
    assert 0 < report.readings < first.readings / 5


def test_cli_options(db_url: str) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["analyze", "--db-url", db_url, "--shards", "0"])
    assert bad.exit_code == 2
    seed = psycopg.connect(db_url, autocommit=True)
    with seed:
        seed.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (1, 'KAM', '00000001'), "
                     "(2, 'KAM', '00000002')")
        seed.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3) "
                     "SELECT k, t, t, 1 FROM generate_series(1, 2) k, "
                     "generate_series(%s::timestamptz, %s, interval '1 hour') t", (START, NOW))
    args = ["analyze", "--db-url", db_url, "--now", NOW.isoformat(), "--shards", "2"]
    for extra in (["--processes", "2"], ["--incremental"]):
        res = runner.invoke(app, args + extra)
        assert res.exit_code == 0, res.output
        assert f"{2 * (DAYS * 24 + 2):,} readings as of" in res.output  # both meters, whole lookback
