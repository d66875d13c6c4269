"""Alert lifecycle through the API: assign, comment, resolve, dismiss (reason required), as the credential's actor;
each action in the alert's history, the audit log and the outbox (notices name the service point and address);
incidents listed with their derived state."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from pipeline.analyze import run_analysis
from storage import alerts_outbox as outbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from registry_seed import add_meter, add_point, add_readings, install

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)
EVENTS = ["raised", "acknowledged", "assigned", "resolved", "dismissed"]

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def leaks(db_url: str) -> list[dict[str, Any]]:
    """Two leaking meters at two service points, analysed: two continuous_flow alerts; an MQTT subscriber."""
    with psycopg.connect(db_url) as conn:
        for n in (1, 2):
            add_point(conn, f"SP-{n}")
            key = add_meter(conn, f"0000000{n}")
            install(conn, f"SP-{n}", key, T0 - timedelta(days=400))
            add_readings(conn, key, T0, [0.05] * 30)
        outbox.add_subscription(conn, channel="mqtt", target="odczyt/v1/alerts", events=EVENTS)
    report = run_analysis(db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry())
    return sorted(report.raised, key=lambda a: a["service_point_id"])


@pytest.fixture
def client(db_url: str, make_api_key: Callable[..., str]) -> Iterator[TestClient]:
    key = make_api_key(db_url, "operations", name="dispatch-desk")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _outbox_events(db_url: str, alert_id: int) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(db_url) as conn:
        return [(r["event"], r["payload"]) for r in outbox.outbox_rows(conn) if r["alert_id"] == alert_id]


def test_assign_comment_resolve_as_the_caller_with_history_audit_and_notices(
        db_url: str, leaks: list[dict[str, Any]], client: TestClient) -> None:
    alert_id = leaks[0]["id"]
    assigned = client.post(f"/v1/alerts/{alert_id}/assign", json={"assignee": "anna"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "anna"
    body = assigned.json()
    assert (body["manufacturer"], body["meter_id"], body["service_point_id"]) == ("KAM", "00000001", "SP-1")
    assert body["address"] == "ul. Wodna 1, Kraków" and body["customer_ref"] == "C-SP-1"
    assert body["links"]["meter"] == "/v1/meters/00000001/readings?manufacturer=KAM"
    assert body["links"]["service_point_ui"] == "/ui/service-points/SP-1"
    assert client.post(f"/v1/alerts/{alert_id}/comments", json={"text": "customer called back"}).status_code == 201
    resolved = client.post(f"/v1/alerts/{alert_id}/resolve", json={"note": "toilet cistern repaired"}).json()
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "key:dispatch-desk"
    assert resolved["resolution"] == "toilet cistern repaired"
    assert client.post(f"/v1/alerts/{alert_id}/resolve").status_code == 409
    assert client.post(f"/v1/alerts/{alert_id}/dismiss", json={"reason": "x"}).status_code == 409

    history = client.get(f"/v1/alerts/{alert_id}").json()["history"]
    assert [(e["event"], e["actor"]) for e in history] == [
        ("raised", "system"), ("assigned", "key:dispatch-desk"), ("commented", "key:dispatch-desk"),
        ("resolved", "key:dispatch-desk")]
    assert history[2]["note"] == "customer called back"
    notices = _outbox_events(db_url, alert_id)
    assert [e for e, _ in notices] == ["raised", "assigned", "resolved"]
    for _, payload in notices:
        alert = payload["alert"]
        assert (alert["service_point_id"], alert["address"], alert["meter_id"]) == ("SP-1", "ul. Wodna 1, Kraków",
                                                                                   "00000001")
    with psycopg.connect(db_url) as conn:
        audit = conn.execute("SELECT actor, action, subject FROM audit_log WHERE subject = %s ORDER BY id",
                             (f"alert:{alert_id}",)).fetchall()
    assert audit == [("key:dispatch-desk", f"alert.{a}", f"alert:{alert_id}")
                     for a in ("assign", "comment", "resolve")]


def test_dismiss_needs_a_reason_and_closes_the_incident(db_url: str, leaks: list[dict[str, Any]],
                                                        client: TestClient) -> None:
    alert_id = leaks[1]["id"]
    assert client.post(f"/v1/alerts/{alert_id}/dismiss", json={}).status_code == 422
    assert client.post(f"/v1/alerts/{alert_id}/dismiss", json={"reason": "   "}).status_code == 422
    dismissed = client.post(f"/v1/alerts/{alert_id}/dismiss", json={"reason": "garden watering, metered"}).json()
    assert dismissed["state"] == "dismissed" and dismissed["dismiss_reason"] == "garden watering, metered"
    assert [e for e, _ in _outbox_events(db_url, alert_id)] == ["raised", "dismissed"]
    incidents = client.get("/v1/incidents", params={"service_point_id": "SP-2"}).json()["items"]
    assert [(i["condition"], i["state"], i["alert_ids"]) for i in incidents] == [("leak", "dismissed", [alert_id])]
    open_incidents = client.get("/v1/incidents", params={"state": "open"}).json()
    assert [i["service_point_id"] for i in open_incidents["items"]] == ["SP-1"]
    one = client.get(f"/v1/incidents/{incidents[0]['id']}").json()
    assert one["address"] == "ul. Wodna 2, Kraków"
    assert client.get("/v1/incidents/999999").status_code == 404


def test_unknown_alert_404_and_roles(db_url: str, leaks: list[dict[str, Any]], client: TestClient,
                                     make_api_key: Callable[..., str]) -> None:
    assert client.post("/v1/alerts/999999/resolve").status_code == 404
    assert client.post("/v1/alerts/999999/assign", json={"assignee": "anna"}).status_code == 404
    billing = make_api_key(db_url, "billing", name="billing-export")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {billing}"}) as other:
        assert other.post(f"/v1/alerts/{leaks[0]['id']}/resolve").status_code == 403
        assert other.get("/v1/incidents").status_code == 403
    with TestClient(create_app(db_url, registry=CollectorRegistry())) as anonymous:
        assert anonymous.post(f"/v1/alerts/{leaks[0]['id']}/resolve").status_code == 401


def test_list_names_the_subject_and_filters_by_point_meter_assignee(
        db_url: str, leaks: list[dict[str, Any]], client: TestClient) -> None:
    rows = client.get("/v1/alerts", params={"service_point_id": "SP-2"}).json()["items"]
    assert [(r["manufacturer"], r["meter_id"], r["address"], r["customer_ref"], r["area"]) for r in rows] == [
        ("KAM", "00000002", "ul. Wodna 2, Kraków", "C-SP-2", "north")]
    assert rows[0]["links"]["service_point"] == "/v1/service-points/SP-2/consumption"
    assert rows[0]["incident_id"] is not None and rows[0]["meter_key"] == leaks[1]["meter_key"]
    meters = {m["meter_id"]: m["meter_key"] for m in client.get("/v1/meters").json()["items"]}
    assert meters["00000002"] == rows[0]["meter_key"]  # the registry exposes the key alerts carry
    by_meter = client.get("/v1/alerts", params={"manufacturer": "kam", "meter_id": "00000001"}).json()["items"]
    assert [r["service_point_id"] for r in by_meter] == ["SP-1"]
    client.post(f"/v1/alerts/{leaks[0]['id']}/assign", json={"assignee": "marek"})
    mine = client.get("/v1/alerts", params={"assignee": "marek"}).json()["items"]
    assert [r["id"] for r in mine] == [leaks[0]["id"]]
    by_incident = client.get("/v1/alerts", params={"incident_id": rows[0]["incident_id"]}).json()["items"]
    assert [r["id"] for r in by_incident] == [leaks[1]["id"]]
    assert client.get("/v1/alerts", params={"meter_id": "nothex!!"}).status_code == 422
    acked = client.post(f"/v1/alerts/{leaks[1]['id']}/ack").json()
    assert acked["state"] == "acknowledged"
    assert [e for e, _ in _outbox_events(db_url, leaks[1]["id"])] == ["raised", "acknowledged"]


def test_actions_on_an_incident_change_all_its_alerts(db_url: str, client: TestClient) -> None:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-L")
        key = add_meter(conn, "00000077")
        install(conn, "SP-L", key, T0 - timedelta(days=400))
        add_readings(conn, key, T0, [0.05] * (24 * 4 + 6))  # four leaky nights: continuous and night flow
    run_analysis(db_url, now=T0 + timedelta(hours=24 * 4 + 6), registry=CollectorRegistry())
    (incident,) = client.get("/v1/incidents", params={"service_point_id": "SP-L"}).json()["items"]
    assert sorted(incident["kinds"]) == ["continuous_flow", "night_flow"] and incident["state"] == "open"
    path = f"/v1/incidents/{incident['id']}"
    assigned = client.post(f"{path}/assign", json={"assignee": "anna"})
    assert assigned.status_code == 200
    alerts = client.get("/v1/alerts", params={"incident_id": incident["id"]}).json()["items"]
    assert {a["assignee"] for a in alerts} == {"anna"}
    assert client.post(f"{path}/ack", json={"note": "crew on the way"}).json()["state"] == "acknowledged"
    assert client.post(f"{path}/ack").status_code == 409  # nothing open any more
    assert client.post(f"{path}/dismiss", json={}).status_code == 422
    resolved = client.post(f"{path}/resolve", json={"note": "cistern repaired"}).json()
    assert resolved["state"] == "resolved" and resolved["closed_at"] is not None
    alerts = client.get("/v1/alerts", params={"incident_id": incident["id"]}).json()["items"]
    assert {(a["state"], a["resolution"], a["resolved_by"]) for a in alerts} == {
        ("resolved", "cistern repaired", "key:dispatch-desk")}
    assert client.post(f"{path}/resolve").status_code == 409
    assert client.post("/v1/incidents/999999/resolve").status_code == 404
    with psycopg.connect(db_url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'alert.%' "
                                              "ORDER BY id").fetchall()]
    assert actions == ["alert.assign"] * 2 + ["alert.ack"] * 2 + ["alert.resolve"] * 2

