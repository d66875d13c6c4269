"""``odczyt alerts resolve|dismiss|assign|comment`` and ``odczyt notices`` through the real CLI entry point:
changes with history, audit and notices; a user's mistake is one line and exit 2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from registry_seed import add_meter, add_point, add_readings, install

from pipeline.analyze import run_analysis
from pipeline.cli import run
from storage import alerts as store
from storage import alerts_outbox as outbox
from storage import notices

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)


def _leak(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-1")
        key = add_meter(conn, "00000001")
        install(conn, "SP-1", key, T0 - timedelta(days=400))
        add_readings(conn, key, T0, [0.05] * 30)
        outbox.add_subscription(conn, channel="mqtt", target="odczyt/v1/alerts",
                                events=["raised", "assigned", "resolved", "dismissed"])
    report = run_analysis(db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry())
    (alert,) = report.raised
    return int(alert["id"])


def test_assign_comment_resolve_then_mistakes_are_one_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    alert_id = _leak(db_url)
    assert run(["alerts", "assign", str(alert_id), "anna", "--db-url", db_url]) == 0
    assert "assignee anna" in capsys.readouterr().out
    assert run(["alerts", "comment", str(alert_id), "called the customer", "--db-url", db_url]) == 0
    assert run(["alerts", "resolve", str(alert_id), "--note", "cistern repaired", "--db-url", db_url]) == 0
    assert f"alert {alert_id} (continuous_flow, SP-1): resolved" in capsys.readouterr().out
    with psycopg.connect(db_url) as conn:
        row = store.get_alert(conn, alert_id=alert_id)
        history = [(h["event"], h["note"]) for h in store.alert_history(conn, alert_id=alert_id)]
        audit = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
        events = [r["event"] for r in outbox.outbox_rows(conn)]
    assert row is not None and row["resolution"] == "cistern repaired" and row["resolved_by"].startswith("cli:")
    assert history == [("raised", None), ("assigned", "anna"), ("commented", "called the customer"),
                       ("resolved", "cistern repaired")]
    assert audit == ["alert.assign", "alert.comment", "alert.resolve"]  # as the API's alert.ack
    assert events == ["raised", "assigned", "resolved"]

    capsys.readouterr()
    assert run(["alerts", "dismiss", str(alert_id), "--reason", "late", "--db-url", db_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is resolved: cannot dismiss" in err
    assert run(["alerts", "dismiss", str(alert_id), "--reason", " ", "--db-url", db_url]) == 2
    assert run(["alerts", "resolve", "999999", "--db-url", db_url]) == 2
    assert "alert 999999 not found" in capsys.readouterr().err


def test_notices_subscribe_opt_out_list(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-7")
    assert run(["notices", "subscribe", "SP-7", "sms", "+48 600 100 200", "--source", "paper form",
                "--threshold", "0.01", "--db-url", db_url]) == 0
    sub_id = int(capsys.readouterr().out.split()[2])
    assert run(["notices", "subscribe", "SP-7", "sms", "call me", "--source", "x", "--db-url", db_url]) == 2
    assert run(["notices", "subscribe", "SP-0", "email", "a@b.pl", "--source", "x", "--db-url", db_url]) == 2
    assert "no service point 'SP-0'" in capsys.readouterr().err
    assert run(["notices", "opt-out", str(sub_id), "--source", "phone call", "--db-url", db_url]) == 0
    assert run(["notices", "opt-out", str(sub_id), "--source", "again", "--db-url", db_url]) == 2
    capsys.readouterr()
    assert run(["notices", "list", "--service-point", "SP-7", "--db-url", db_url]) == 0
    assert "customer notices (1)" in capsys.readouterr().out
    with psycopg.connect(db_url) as conn:
        (sub,) = notices.list_subscriptions(conn, service_point_id="SP-7")
        consents = [(c["action"], c["source"]) for c in notices.consents(conn, subscription_id=sub_id)]
    assert (sub["active"], sub["target"], sub["leak_threshold_m3h"]) == (False, "+48 600 100 200", 0.01)
    assert consents == [("opt_in", "paper form"), ("opt_out", "phone call")]
