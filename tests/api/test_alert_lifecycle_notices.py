"""Customer notice subscriptions through the API: opt-in with contact, threshold and source; validation; the
e-BOK (portal) credential limited to its service points; opt-out and renewed opt-in recorded; audit rows."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from registry_seed import add_point

pytestmark = pytest.mark.services

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _client(db_url: str, key: str) -> TestClient:
    return TestClient(create_app(db_url, registry=CollectorRegistry()), headers={"Authorization": f"Bearer {key}"})


def test_customer_opt_in_opt_out_with_consent_history(db_url: str, make_api_key: Callable[..., str]) -> None:
    with psycopg.connect(db_url) as conn:
        add_point(conn, "SP-1")
        add_point(conn, "SP-2")
    with _client(db_url, make_api_key(db_url, "portal", ["SP-1"], name="ebok")) as ebok:
        made = ebok.post("/v1/service-points/SP-1/notices", json={
            "channel": "sms", "contact": "+48 600 100 200", "leak_threshold_m3h": 0.02, "source": "e-BOK"})
        assert made.status_code == 201
        sub = made.json()
        assert (sub["service_point_id"], sub["address"], sub["target"], sub["active"]) == (
            "SP-1", "ul. Wodna 1, Kraków", "+48 600 100 200", True)
        assert sub["kinds"] == ["continuous_flow", "night_flow", "burst", "meter_leak", "meter_burst"]
        assert [c["action"] for c in sub["consents"]] == ["opt_in"]
        assert ebok.post("/v1/service-points/SP-2/notices", json={
            "channel": "sms", "contact": "600100200", "source": "e-BOK"}).status_code == 403  # not its customer
        for bad in ({"channel": "sms", "contact": "call me", "source": "x"},
                    {"channel": "email", "contact": "not-an-address", "source": "x"},
                    {"channel": "sms", "contact": "600100200", "source": " "},
                    {"channel": "fax", "contact": "600100200", "source": "x"},
                    {"channel": "sms", "contact": "600100200", "source": "x", "leak_threshold_m3h": -1}):
            assert ebok.post("/v1/service-points/SP-1/notices", json=bad).status_code == 422, bad
        out = ebok.post(f"/v1/notices/{sub['id']}/opt-out", json={"source": "sms STOP"}).json()
        assert out["active"] is False and out["opted_out_at"] is not None
        assert [(c["action"], c["source"]) for c in out["consents"]] == [("opt_in", "e-BOK"), ("opt_out", "sms STOP")]
        assert ebok.post(f"/v1/notices/{sub['id']}/opt-out", json={"source": "again"}).status_code == 409
        back = ebok.post(f"/v1/notices/{sub['id']}/opt-in", json={"source": "phone call"}).json()
        assert back["active"] is True and len(back["consents"]) == 3
    with _client(db_url, make_api_key(db_url, "operations", name="desk")) as desk:
        assert desk.post("/v1/service-points/NOPE/notices", json={
            "channel": "email", "contact": "jan@example.pl", "source": "paper form"}).status_code == 404
        mail = desk.post("/v1/service-points/SP-2/notices", json={
            "channel": "email", "contact": "jan@example.pl", "source": "paper form"})
        assert mail.status_code == 201
        assert [s["channel"] for s in desk.get("/v1/service-points/SP-1/notices").json()["items"]] == ["sms"]
        desk.post("/v1/service-points/SP-1/notices", json={"channel": "email", "contact": "ewa@example.pl",
                                                           "source": "e-BOK"})
        first = desk.get("/v1/service-points/SP-1/notices", params={"limit": 1}).json()
        second = desk.get("/v1/service-points/SP-1/notices", params={"limit": 1, "cursor": first["next"]}).json()
        assert [s["channel"] for s in first["items"] + second["items"]] == ["sms", "email"] and not second["next"]
        assert desk.post("/v1/notices/999999/opt-out", json={"source": "x"}).status_code == 404
    with _client(db_url, make_api_key(db_url, "billing", name="billing")) as billing:
        assert billing.get("/v1/service-points/SP-1/notices").status_code == 403
    with psycopg.connect(db_url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'notice.%' "
                                              "ORDER BY id").fetchall()]
    assert actions == ["notice.opt_in", "notice.opt_out", "notice.opt_in", "notice.opt_in", "notice.opt_in"]
