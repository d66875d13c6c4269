"""Alerts name their subject (service point, meter, address, customer), removed meters stay silent, never-heard
meters are reported, and one leak seen by two rules is one incident — through run_analysis on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from registry_seed import add_meter, add_point, add_readings, install

from core.types import ALARM_BITS, Alarm
from pipeline.analyze import run_analysis
from storage import alerts as store
from storage import incidents

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)
INSTALLED = T0 - timedelta(days=400)


def _run(db_url: str, now: datetime):
    return run_analysis(db_url, now=now, registry=CollectorRegistry())


def test_every_meter_level_alert_kind_carries_its_service_point(db_url: str) -> None:
    end = T0 + timedelta(hours=30)
    with psycopg.connect(db_url) as conn:
        keys = {}
        for n, mark in enumerate([None, None, None, ("national_year", "2012"), None, None, None, None], start=1):
            sp = f"SP-{n}"
            add_point(conn, sp)
            keys[sp] = add_meter(conn, f"0000000{n}", mark=mark)
            install(conn, sp, keys[sp], INSTALLED if n != 5 else end - timedelta(days=10))
        add_readings(conn, keys["SP-1"], T0, [0.05] * 30)  # continuous flow
        add_readings(conn, keys["SP-2"], T0, [0.01] * 10 + [-0.5] + [0.01] * 19)  # register falls: reverse flow
        add_readings(conn, keys["SP-3"], T0 - timedelta(days=20), [0.01] * 5)  # silent for ~20 days
        add_readings(conn, keys["SP-4"], T0, [0.01] * 30)  # legalization of 2012: expired
        # SP-5: installed 10 days ago, never heard
        bit = ALARM_BITS[Alarm.TAMPER]
        add_readings(conn, keys["SP-6"], T0, [0.01] * 30, alarms={29: bit, 30: bit})  # the meter's own flag
        add_readings(conn, keys["SP-7"], T0, [0.0] * 28 + [1.2, 1.2])  # 1.2 m³/h ≥ 0.3 × Q3: burst
        add_readings(conn, keys["SP-8"], end - timedelta(days=30), [0.0] * (24 * 30))  # no progress: stuck
    report = _run(db_url, end)
    kinds = report.raised_by_kind()
    for kind in ("continuous_flow", "reverse_flow", "silent", "legalization_expired", "never_heard",
                 "meter_tamper", "burst", "stuck"):
        assert kinds.get(kind), (kind, kinds)
    with psycopg.connect(db_url) as conn:
        rows = store.list_alerts(conn, limit=1000)
    meter_level = [r for r in rows if r["subject"].startswith("m:")]
    assert len(meter_level) >= 8
    by_key = {v: k for k, v in keys.items()}
    for r in meter_level:
        sp = by_key[r["meter_key"]]
        assert r["service_point_id"] == sp, r
        assert r["manufacturer"] == "KAM" and r["meter_id"] == f"0000000{sp[-1]}"
        assert r["address"] == f"ul. Wodna {sp[-1]}, Kraków" and r["customer_ref"] == f"C-{sp}"
        assert r["area"] == "north"
    with psycopg.connect(db_url) as conn:
        only = store.list_alerts(conn, manufacturer="kam", meter_id="00000002")
        assert {r["kind"] for r in only} == {"reverse_flow"}
        assert {r["kind"] for r in store.list_alerts(conn, service_point_id="SP-5")} == {"never_heard"}


def test_removed_meter_raises_nothing_and_its_open_alerts_resolve(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-R")
        key = add_meter(conn, "00000009", mark=("national_year", "2012"))
        install(conn, "SP-R", key, INSTALLED)
        add_readings(conn, key, T0 - timedelta(days=20), [0.01] * 5)
    first = _run(db_url, T0)
    assert {"silent", "legalization_expired"} <= set(first.raised_by_kind())
    removed_at = T0 + timedelta(hours=1)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE installations SET removed_at = %s WHERE meter_key = %s", (removed_at, key))
    second = _run(db_url, T0 + timedelta(hours=2))
    assert second.raised == []
    assert {a["kind"] for a in second.resolved} == {"silent", "legalization_expired"}
    assert {a["resolution"] for a in second.resolved} == {"meter removed"}
    assert _run(db_url, T0 + timedelta(days=3)).raised == []  # stays silent, nothing re-raised


def test_never_heard_after_the_read_modes_limit_and_resolved_when_heard(db_url: str) -> None:
    now = T0
    with psycopg.connect(db_url) as conn:
        for n, (mode, age_days) in enumerate([("fixed", 4), ("fixed", 2), ("driveby", 30), ("driveby", 91)]):
            add_point(conn, f"SP-N{n}")
            key = add_meter(conn, f"1000000{n}", read_mode=mode)
            install(conn, f"SP-N{n}", key, now - timedelta(days=age_days))
        heard = add_meter(conn, "10000009")
        add_point(conn, "SP-N9")
        install(conn, "SP-N9", heard, now - timedelta(days=10))
        add_readings(conn, heard, now - timedelta(days=1), [0.01] * 3)
    report = _run(db_url, now)
    raised = [a for a in report.raised if a["kind"] == "never_heard"]
    assert sorted(a["service_point_id"] for a in raised) == ["SP-N0", "SP-N3"]
    fixed = next(a for a in raised if a["service_point_id"] == "SP-N0")
    assert fixed["evidence"]["limit_days"] == 3 and fixed["evidence"]["read_mode"] == "fixed"
    with psycopg.connect(db_url) as conn:
        add_readings(conn, fixed["meter_key"], now, [0.01])
    later = _run(db_url, now + timedelta(hours=2))
    assert [a["id"] for a in later.resolved if a["kind"] == "never_heard"] == [fixed["id"]]


def test_continuous_flow_and_night_flow_of_one_leak_are_one_incident(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-L")
        key = add_meter(conn, "00000077")
        install(conn, "SP-L", key, INSTALLED)
        add_readings(conn, key, T0, [0.05] * (24 * 4 + 6))  # a running toilet for four nights
    report = _run(db_url, T0 + timedelta(hours=24 * 4 + 6))
    leak = [a for a in report.raised if a["kind"] in ("continuous_flow", "night_flow")]
    assert sorted(a["kind"] for a in leak) == ["continuous_flow", "night_flow"]
    assert {a["service_point_id"] for a in leak} == {"SP-L"}
    named = {(a["manufacturer"], a["meter_id"], a["address"]) for a in leak}
    assert named == {("KAM", "00000077", "ul. Wodna L, Kraków")}
    assert len({a["incident_id"] for a in leak}) == 1
    incident_id = leak[0]["incident_id"]
    at = T0 + timedelta(days=5)
    with psycopg.connect(db_url) as conn:
        inc = incidents.get_incident(conn, incident_id=incident_id)
        assert inc is not None and (inc["condition"], inc["state"], inc["service_point_id"]) == ("leak", "open", "SP-L")
        assert sorted(inc["alert_ids"]) == sorted(a["id"] for a in leak)
        store.acknowledge(conn, alert_id=leak[0]["id"], at=at, actor="user:anna")
        assert incidents.get_incident(conn, incident_id=incident_id)["state"] == "open"  # type: ignore[index]
        store.acknowledge(conn, alert_id=leak[1]["id"], at=at, actor="user:anna")
        assert incidents.get_incident(conn, incident_id=incident_id)["state"] == "acknowledged"  # type: ignore[index]
        store.resolve(conn, alert_id=leak[0]["id"], at=at, actor="user:anna", resolution="fixed")
        store.dismiss(conn, alert_id=leak[1]["id"], at=at, actor="user:anna", reason="same leak")
        inc = incidents.get_incident(conn, incident_id=incident_id)
        assert inc is not None and inc["state"] == "resolved" and inc["closed_at"] == at
        assert [i["id"] for i in incidents.list_incidents(conn, state="resolved")] == [incident_id]
