"""End to end on real services: simulated meters → pty iM871A → gateway → Mosquitto → ingest → PostgreSQL → API.

Every telegram the town sent must be stored exactly once with the values it encoded, and the billing
endpoint must return, per meter, the last reading before the cut-off.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from api.app import create_app
from api.auth_admin import issue_api_key
from core.settings import Settings
from pipeline.demo import run_demo
from pipeline.town import WARSAW, Town

pytestmark = [pytest.mark.services, pytest.mark.slow]

METERS = 50
DAYS = 2
END = datetime(2026, 11, 2, tzinfo=WARSAW)  # the period crosses a month end: billing-date values change


def test_every_reading_arrives_exactly_once_and_billing_matches(fresh_db_url: str, mqtt_broker) -> None:
    settings = Settings(database_url=fresh_db_url, mqtt_url=mqtt_broker.url, _env_file=None)  # type: ignore[call-arg]
    out = io.StringIO()
    result = run_demo(settings, meters=METERS, days=DAYS, serve=False, end=END,
                      console=Console(file=out, width=120))
    town = Town(METERS, seed=7)
    start = END.astimezone(WARSAW) - timedelta(days=DAYS)
    txs = list(town.transmissions(start, DAYS))
    assert len(txs) == METERS * DAYS * 24

    expected = Counter((t.meter.key_int, t.access_number, round(t.total_m3, 3)) for t in txs)
    with psycopg.connect(fresh_db_url) as conn:
        rows = conn.execute(
            "SELECT meter_key, access_number & 255, round(total_m3::numeric, 3)::float8 FROM readings").fetchall()
        targets = conn.execute("SELECT DISTINCT target_date FROM readings").fetchall()
    stored = Counter((k, a, v) for k, a, v in rows)
    missing, extra = list((expected - stored).items())[:3], list((stored - expected).items())[:3]
    assert stored == expected, f"missing {missing}, extra {extra}"
    assert {t for (t,) in targets} == {datetime(2026, 9, 30).date(), datetime(2026, 10, 31).date()}

    assert result.readings_stored == len(txs)
    assert result.duplicates_dropped >= len(txs) // 5  # the second gateway re-heard every 5th telegram
    assert result.frames_awaiting_key >= 1  # the unregistered meter's frames are kept, not dropped
    assert result.dead_letters >= 1  # the poison message
    leaks = sum(1 for m in town.meters if m.fault == "leak")
    reverse = sum(1 for m in town.meters if m.fault == "reverse")
    assert leaks and reverse
    assert result.alerts is not None
    assert result.alerts.get("continuous_flow") == leaks  # the injected leaks, and no household
    assert result.alerts.get("reverse_flow") == reverse
    summary = out.getvalue()
    assert "readings stored" in summary and "billing total" in summary

    cutoff = END.astimezone(WARSAW) - timedelta(hours=12)
    last_before = {}
    for t in txs:
        if t.at <= cutoff:
            last_before[t.meter.meter_id] = t
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        key, _ = issue_api_key(conn, name="e2e", role="admin", actor="test")
    with TestClient(create_app(fresh_db_url), headers={"Authorization": f"Bearer {key}"}) as client:
        resp = client.get("/v1/billing/readings", params={"at": cutoff.isoformat(), "limit": 10_000})
        assert resp.status_code == 200, resp.text
        by_id = {item["meter_id"]: item for item in resp.json()["items"]}
        assert set(by_id) == set(last_before)
        for meter_id, tx in last_before.items():
            assert by_id[meter_id]["total_m3"] == pytest.approx(tx.total_m3, abs=1e-6)
            assert by_id[meter_id]["actual"] is True

        one = txs[0].meter
        resp = client.get(f"/v1/meters/{one.meter_id}/readings",
                          params={"from": start.isoformat(), "to": END.isoformat(), "limit": 10_000})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["meter_id"] == one.meter_id and body["manufacturer"] == one.manufacturer
        readings = body["items"]
        assert len(readings) == DAYS * 24
        assert client.get("/v1/dashboard/summary").json()["readings_total"] == len(txs)
        page = client.get("/")
        assert page.status_code == 200 and "/ui/static/js/overview.js" in page.text
        script = client.get("/ui/static/js/overview.js")
        assert script.status_code == 200 and "/v1/dashboard/summary" in script.text
        # the overview page reads these fields of the alerts summary
        summary = client.get("/v1/dashboard/alerts").json()
        assert summary["by_kind"] and {"open", "acknowledged"} <= set(summary)
        assert "al.by_kind" in script.text and "al.open" in script.text
        metrics = client.get("/metrics").text
        assert "odczyt_db_readings" in metrics
