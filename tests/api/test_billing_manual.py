"""Customer and crew readings through the API (issue 14): refused when lower than the previous valid reading,
an implausible one verified by staff and then billed as manual:customer; a staff edit with its audit row."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.ids import meter_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEY = meter_key("KAM", "00000042")


def _setup(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id, q3_m3h) VALUES (%s, 'KAM', '00000042',"
                     " 0.02)", (KEY,))
        conn.execute("INSERT INTO service_points (id, customer_ref) VALUES ('SP-M', 'C-1'), ('SP-X', 'C-2')")
        conn.execute("INSERT INTO installations VALUES ('SP-M', %s, '2025-01-01Z', NULL, 0, NULL)", (KEY,))
        for at, value in (("2026-10-01T10:00Z", 100.0), ("2026-11-20T10:00Z", 120.0)):
            conn.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3) VALUES"
                         " (%s, %s, %s, %s)", (KEY, at, at, value))


def _client(db_url: str, key: str) -> TestClient:
    return TestClient(create_app(db_url, registry=CollectorRegistry()), headers={"Authorization": f"Bearer {key}"})


def test_customer_reading_refused_then_verified_and_billed(db_url: str, make_api_key: Callable[..., str]) -> None:
    _setup(db_url)
    portal = _client(db_url, make_api_key(db_url, "portal", ["SP-M"]))
    staff = _client(db_url, make_api_key(db_url, "operations"))
    billing = _client(db_url, make_api_key(db_url, "billing"))
    with portal, staff, billing:
        low = portal.post("/v1/service-points/SP-M/readings", json={"value_m3": 119.0,
                                                                    "taken_at": "2026-11-30T20:00:00Z"})
        assert low.status_code == 201 and low.json()["status"] == "refused"
        assert low.json()["reasons"][0].startswith("lower than the previous valid reading (120 m³")
        assert portal.post("/v1/service-points/SP-X/readings", json={
            "value_m3": 1.0, "taken_at": "2026-11-30T20:00:00Z"}).status_code == 403
        wrong = portal.post("/v1/service-points/SP-M/readings", json={
            "value_m3": 130.0, "taken_at": "2026-11-30T20:00:00Z", "meter": "APA-00000001"}).json()
        assert wrong["status"] == "refused" and "not at service point" in wrong["reasons"][0]
        jump = portal.post("/v1/service-points/SP-M/readings", json={
            "value_m3": 130.0, "taken_at": "2026-11-30T20:00:00Z", "photo_base64": "iVBORw0KGgo=",
            "photo_type": "image/png"}).json()
        assert jump["status"] == "needs_verification" and jump["reasons"][0].startswith("implausible jump")
        assert jump["source"] == "customer" and jump["has_photo"] is True
        queue = staff.get("/v1/readings/pending").json()["items"]
        assert [q["id"] for q in queue] == [jump["id"]]
        ok = staff.post(f"/v1/readings/pending/{jump['id']}/accept", json={"reason": "photo shows 130"})
        assert ok.status_code == 200 and ok.json()["status"] == "accepted"
        assert staff.post(f"/v1/readings/pending/{jump['id']}/reject", json={}).status_code == 409
        run = billing.post("/v1/billing/runs", json={
            "period": {"first": "2026-11-01", "last": "2026-11-30", "timezone": "Europe/Warsaw"},
            "selection": {"service_points": ["SP-M"]}}).json()
        line = billing.get(f"/v1/billing/runs/{run['id']}/lines").json()["items"][0]
        assert line["closing"]["basis"] == "manual:customer" and line["closing"]["value_m3"] == 130.0
        assert line["opening"]["basis"] == "interpolated" and line["basis"] == "interpolated"


def test_staff_edit_keeps_original_and_is_audited(db_url: str, make_api_key: Callable[..., str]) -> None:
    _setup(db_url)
    with _client(db_url, make_api_key(db_url, "operations")) as staff:
        got = staff.patch("/v1/readings/KAM-00000042/2026-11-20T10:00:00Z",
                          json={"action": "replace", "value_m3": 121.5, "reason": "photo check"})
        assert got.status_code == 200, got.text
        assert got.json()["original_m3"] == 120.0 and got.json()["value_m3"] == 121.5
        assert staff.patch("/v1/readings/KAM-00000042/2026-11-20T10:00:00Z",
                           json={"action": "confirm", "value_m3": 1.0, "reason": "x"}).status_code == 422
        assert staff.patch("/v1/readings/KAM-00000042/2026-11-21T10:00:00Z",
                           json={"action": "confirm", "reason": "x"}).status_code == 404
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT total_m3 FROM readings WHERE meter_key = %s AND measured_at ="
                            " '2026-11-20T10:00Z'", (KEY,)).fetchone() == (120.0,)
        audit = conn.execute("SELECT action, before->>'total_m3', after->>'value_m3' FROM audit_log"
                             " WHERE subject LIKE 'reading:%'").fetchall()
        assert audit == [("reading.replace", "120.0", "121.5")]
    with _client(db_url, make_api_key(db_url, "billing")) as billing:
        run = billing.post("/v1/billing/runs", json={
            "period": {"first": "2026-11-20", "last": "2026-11-20", "timezone": "Europe/Warsaw"},
            "selection": {"all": True}, "tariffs": []}).json()
        line = billing.get(f"/v1/billing/runs/{run['id']}/lines").json()["items"][0]
        assert line["closing"] == {"value_m3": 121.5, "basis": "edited", "at": "2026-11-20T10:00:00Z"}
    assert datetime(2026, 11, 20, tzinfo=UTC)  # the period is local days, stated explicitly
