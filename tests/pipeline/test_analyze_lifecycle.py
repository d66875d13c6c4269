"""run_analysis against a migrated database: raise, no duplicate, ack, auto-resolve, re-raise, debounce."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from core.ids import meter_key
from core.types import ALARM_BITS, Alarm
from pipeline.analyze import AnalysisScheduler, run_analysis
from storage import alerts as store

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)
A = meter_key("KAM", "00000001")
B = meter_key("KAM", "00000002")


def seed_registry(db_url: str, meters: list[tuple[int, str, bool]]) -> None:
    """Meters with a service point each: (meter_key, service point id, occupied)."""
    with psycopg.connect(db_url) as conn:
        for key, sp, occupied in meters:
            conn.execute(
                "INSERT INTO meters (meter_key, manufacturer, meter_id, q3_m3h) VALUES (%s, %s, %s, 2.5)",
                (key, "KAM", f"{key & 0xFFFFFFFF:08X}"),
            )
            conn.execute("INSERT INTO service_points (id, area, occupied) VALUES (%s, 'north', %s)", (sp, occupied))
            conn.execute(
                "INSERT INTO installations (service_point_id, meter_key, installed_at) VALUES (%s, %s, %s)",
                (sp, key, T0 - timedelta(days=400)),
            )


def add_readings(
    db_url: str, key: int, start: datetime, use_m3: list[float], total0: float, alarms: dict[int, int] | None = None
) -> float:
    """Hourly readings from ``start``; returns the last register value."""
    total = total0
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor() as cur,
        cur.copy("COPY readings (meter_key, measured_at, received_at, total_m3, alarms, source) FROM STDIN") as copy,
    ):
        for i in range(len(use_m3) + 1):
            if i:
                total += use_m3[i - 1]
            at = start + timedelta(hours=i)
            copy.write_row((key, at, at, total, (alarms or {}).get(i, 0), 0))
    return total


def _run(db_url: str, now: datetime):
    return run_analysis(db_url, now=now, registry=CollectorRegistry())


def test_leak_lifecycle_raise_keep_ack_resolve_reraise(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True), (B, "SP-B", True)])
    end = T0 + timedelta(hours=30)
    add_readings(db_url, A, T0, [0.05] * 30, 100.0)
    add_readings(db_url, B, T0, [0.0, 0.02] * 15, 50.0)
    rep = _run(db_url, end)
    assert rep.raised_by_kind() == {"continuous_flow": 1}  # two leaky nights: not yet a night-flow leak
    (alert,) = [a for a in rep.raised if a["kind"] == "continuous_flow"]
    assert (alert["meter_key"], alert["state"], alert["area"]) == (A, "open", "north")
    assert alert["evidence"]["min_flow_m3h"] == 0.05

    assert _run(db_url, end).raised == []  # no duplicate while open
    with psycopg.connect(db_url) as conn:
        acked = store.acknowledge(conn, alert_id=alert["id"], at=end, actor="dyspozytor")
    assert acked is not None and acked["state"] == "acknowledged"
    assert _run(db_url, end + timedelta(minutes=5)).raised == []

    total = add_readings(db_url, A, end + timedelta(hours=1), [0.0, 0.0], 101.55)  # a zero hour: clears
    rep = _run(db_url, end + timedelta(hours=3))
    assert [a["id"] for a in rep.resolved] == [alert["id"]] and rep.raised == []  # night flow: no clean night yet
    with psycopg.connect(db_url) as conn:
        events = [e["event"] for e in store.alert_history(conn, alert_id=alert["id"])]
    assert events == ["raised", "acknowledged", "resolved"]

    add_readings(db_url, A, end + timedelta(hours=4), [0.05] * 26, total)
    rep = _run(db_url, end + timedelta(hours=30))
    assert rep.raised_by_kind() == {"continuous_flow": 1, "night_flow": 1}  # third leaky night in a row
    (again,) = [a for a in rep.raised if a["kind"] == "continuous_flow"]
    assert again["id"] != alert["id"]
    with psycopg.connect(db_url) as conn:
        open_kinds = sorted(a["kind"] for a in store.open_alerts(conn))
    assert open_kinds == ["continuous_flow", "night_flow"]


def test_meter_flag_is_debounced_to_once_per_day(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True)])
    tamper = ALARM_BITS[Alarm.TAMPER]
    start = datetime(2025, 3, 3, 6, tzinfo=UTC)  # 07:00 Warsaw
    add_readings(db_url, A, start, [0.01, 0.0] * 2, 10.0, alarms={4: tamper})
    rep = _run(db_url, start + timedelta(hours=4))
    assert rep.raised_by_kind() == {"meter_tamper": 1}
    add_readings(db_url, A, start + timedelta(hours=5), [0.0], 10.02)  # flag gone: resolves
    rep = _run(db_url, start + timedelta(hours=6))
    assert rep.resolved_by_kind() == {"meter_tamper": 1}
    add_readings(db_url, A, start + timedelta(hours=7), [0.0], 10.02, alarms={1: tamper})  # same day again
    assert _run(db_url, start + timedelta(hours=8)).raised == []
    add_readings(db_url, A, start + timedelta(days=1), [0.0], 10.02, alarms={1: tamper})  # next day
    assert _run(db_url, start + timedelta(days=1, hours=1)).raised_by_kind() == {"meter_tamper": 1}


def test_finished_burst_between_runs_is_recorded_resolved(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True)])
    add_readings(db_url, A, T0, [0.0, 0.02, 1.2, 0.0, 0.02, 0.0], 10.0)
    rep = _run(db_url, T0 + timedelta(hours=6))
    assert rep.raised_by_kind() == {"burst": 1}
    assert rep.raised[0]["state"] == "resolved"


def test_silent_meter_and_gauge(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True)])
    add_readings(db_url, A, T0, [0.0, 0.02] * 3, 10.0)
    reg = CollectorRegistry()
    rep = run_analysis(db_url, now=T0 + timedelta(days=3), registry=reg)
    assert rep.raised_by_kind() == {"silent": 1}
    assert reg.get_sample_value("odczyt_alerts_open", {"kind": "silent"}) == 1.0
    assert reg.get_sample_value("odczyt_alerts_open", {"kind": "burst"}) == 0.0


def test_scheduler_runs_until_stopped(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True)])
    add_readings(db_url, A, T0, [0.05] * 30, 100.0)
    sched = AnalysisScheduler(0.05, db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry()).start()
    deadline = time.monotonic() + 30
    while sched.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sched.stop()
    assert sched.runs >= 2 and sched.last_report is not None
    with psycopg.connect(db_url) as conn:
        assert sorted(a["kind"] for a in store.open_alerts(conn)) == ["continuous_flow"]
