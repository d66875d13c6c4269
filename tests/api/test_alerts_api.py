"""The alerts API over a migrated database with alerts raised by run_analysis."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from pipeline.analyze import run_analysis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
from test_analyze_lifecycle import T0, A, B, add_readings, seed_registry

pytestmark = pytest.mark.services

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_list_ack_and_dashboard(db_url: str, make_api_key: Callable[..., str]) -> None:
    seed_registry(db_url, [(A, "SP-A", True), (B, "SP-B", True)])
    add_readings(db_url, A, T0, [0.05] * 30, 100.0)
    run_analysis(db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry())
    key = make_api_key(db_url, "operations", name="dispatch-desk")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        leaks = client.get("/v1/alerts", params={"state": "open", "kind": "continuous_flow"}).json()["items"]
        assert [(a["meter_key"], a["severity"]) for a in leaks] == [(A, "warning")]
        assert leaks[0]["evidence"]["min_flow_m3h"] == 0.05
        alert_id = leaks[0]["id"]
        acked = client.post(f"/v1/alerts/{alert_id}/ack", json={"actor": "jan", "note": "crew sent"}).json()
        # the actor is the credential's, a body field naming someone else is ignored
        assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "key:dispatch-desk"
        detail = client.get(f"/v1/alerts/{alert_id}").json()
        assert [e["event"] for e in detail["history"]] == ["raised", "acknowledged"]
        assert client.get("/v1/alerts", params={"state": "open", "kind": "continuous_flow"}).json()["items"] == []
        dash = client.get("/v1/dashboard/alerts").json()
        # B is installed and was never heard: never_heard (open) besides the acknowledged leak
        assert dash["by_kind"] == {"continuous_flow": 1, "never_heard": 1}
        assert dash["open"] == 1 and dash["acknowledged"] == 1
        assert client.post("/v1/alerts/999999/ack").status_code == 404
        assert client.get("/v1/alerts", params={"state": "bogus"}).status_code == 422
