"""The readings, billing, meters and consumption routers against a migrated database."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.types import Reading
from pipeline.registry_import import import_meters_csv
from storage.writer import write_batch

with warnings.catch_warnings():  # starlette asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _setup(db_url: str, tmp: Path) -> None:
    path = tmp / "m.csv"
    path.write_text("manufacturer,meter_id,service_point_id,installed_at,initial_m3\n"
                    "KAM,00000001,SP-1,2026-01-01T00:00:00Z,0\nAPA,00000001,SP-2,2026-01-01T00:00:00Z,0\n")
    import_meters_csv(db_url, path, master_key=None)
    rows = [Reading(meter_id="00000001", manufacturer="KAM", measured_at=T0 + timedelta(hours=h),
                    received_at=T0 + timedelta(hours=h), total_m3=h * 0.01) for h in range(72)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=rows)


def test_endpoints(db_url: str, tmp_path: Path, make_api_key: Callable[..., str]) -> None:
    _setup(db_url, tmp_path)
    key = make_api_key(db_url, "billing")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        assert len(client.get("/v1/meters").json()["items"]) == 2
        ambiguous = client.get("/v1/meters/00000001/readings", params={"from": "2026-11-01T00:00:00Z",
                                                                      "to": "2026-11-02T00:00:00Z"})
        assert ambiguous.status_code == 409
        ok = client.get("/v1/meters/00000001/readings", params={"from": "2026-11-01T00:00:00Z",
                                                               "to": "2026-11-02T00:00:00Z", "manufacturer": "KAM"})
        assert ok.status_code == 200 and len(ok.json()["items"]) == 24
        assert client.get("/v1/meters/123/readings", params={"from": "2026-11-01T00:00:00Z",
                                                            "to": "2026-11-02T00:00:00Z"}).status_code == 422
        bill = client.get("/v1/billing/readings", params={"at": "2026-11-02T23:00:00Z"}).json()["items"]
        kam = next(b for b in bill if b["manufacturer"] == "KAM")
        assert round(kam["total_m3"], 9) == 0.47 and kam["actual"] is True and kam["service_point_id"] == "SP-1"
        cons = client.get("/v1/service-points/SP-1/consumption",
                          params={"from": "2026-11-01T23:00:00Z", "to": "2026-11-03T23:00:00Z"}).json()
        assert [round(p["consumption_m3"], 6) for p in cons["items"]] == [0.24, 0.24]
        assert client.get("/v1/service-points/nope/consumption", params={
            "from": "2026-11-01T23:00:00Z", "to": "2026-11-03T23:00:00Z"}).status_code == 404
