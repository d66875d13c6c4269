"""The gateways API: registry rows from status documents, one gateway, the meters it hears (RSSI, usual and best
gateway per meter, from raw_frames receptions) and a meter's coverage."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.ids import meter_key
from core.settings import GatewaySettings
from pipeline.gateway_status import apply_status, parse_status
from storage import gateways as registry

pytestmark = pytest.mark.services

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

A, B = meter_key("KAM", "00000001"), meter_key("APA", "00000002")
SETTINGS = GatewaySettings()
HEARTBEAT = (b'{"v":1,"gateway":"%s","state":"online","at":"2026-11-02T08:00:00.000Z","uptime_s":60.0,'
             b'"mqtt_protocol":"5","heartbeat_s":60,"firmware":"odczyt 0.9","position":{"lat":50.06,"lon":19.94},'
             b'"spool":{"depth":3,"max":5000000,"dropped":0,"full":false,"oldest_received_at":null},'
             b'"frames":{},"receivers":[{"kind":"im871a","link_mode":"T1","frames_per_min":42,"watchdog_resets":0}]}')


@pytest.fixture
def client(db_url: str, make_api_key: Callable[..., str]) -> Iterator[TestClient]:
    key = make_api_key(db_url, "operations", name="ops")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _receptions(conn: psycopg.Connection, now: datetime) -> None:
    """A heard by gw-1 (strong, 5 frames) and gw-2 (weak, 6 frames: its usual gateway); B only by gw-2."""
    rows = []
    for i in range(6):
        at = now - timedelta(hours=i + 1)
        gws, rssi = (["gw-1", "gw-2"], [-70.0, -95.0]) if i < 5 else (["gw-2"], [-96.0])
        rows.append((at, i.to_bytes(8, "big"), A, gws, rssi, [at] * len(gws)))
        rows.append((at, (100 + i).to_bytes(8, "big"), B, ["gw-2"], [-80.0], [at]))
    for at, digest, key, gws, rssi, heard in rows:
        conn.execute(
            "INSERT INTO raw_frames (received_at, frame_digest, link_key, meter_key, payload, status, link_mode, "
            "gateways, rssi_dbm, heard_at) VALUES (%s, %s, %s, %s, %s, 0, 'T1', %s, %s, %s)",
            (at, digest, key, key, b"\x00", gws, rssi, heard),
        )


def test_gateways_list_detail_meters_and_coverage(db_url: str, client: TestClient) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for gw in ("gw-1", "gw-2"):
            apply_status(conn, parse_status(f"odczyt/v1/status/{gw}", HEARTBEAT % gw.encode(), now), SETTINGS)
        apply_status(conn, parse_status("odczyt/v1/status/gw-2", b'{"v":1,"gateway":"gw-2","state":"offline",'
                                        b'"reason":"lost"}', now), SETTINGS)
        _receptions(conn, now)
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (%s, 'KAM', '00000001')", (A,))
    listed = client.get("/v1/gateways").json()["items"]
    assert [(g["id"], g["state"], g["reason"], g["open_alerts"]) for g in listed] == [
        ("gw-1", "online", None, 0), ("gw-2", "offline", "lost", 1)]
    gw1 = client.get("/v1/gateways/gw-1").json()
    assert (gw1["receiver"], gw1["link_mode"], gw1["frames_per_min"], gw1["spool_depth"]) == ("im871a", "T1", 42, 3)
    assert (gw1["firmware"], gw1["lat"], gw1["lon"], gw1["heartbeat_s"]) == ("odczyt 0.9", 50.06, 19.94, 60)
    assert gw1["status"]["state"] == "online"
    assert [g["id"] for g in client.get("/v1/gateways", params={"state": "offline"}).json()["items"]] == ["gw-2"]
    assert client.get("/v1/gateways/nope").status_code == 404
    moved = client.put("/v1/gateways/gw-2/position", json={"lat": 50.1, "lon": 19.9})
    assert moved.status_code == 200 and (moved.json()["lat"], moved.json()["lon"]) == (50.1, 19.9)
    assert client.put("/v1/gateways/gw-2/position", json={"lat": 91, "lon": 0}).status_code == 422
    assert client.put("/v1/gateways/nope/position", json={"lat": 1, "lon": 1}).status_code == 404

    heard = client.get("/v1/gateways/gw-1/meters").json()["items"]
    assert [(m["manufacturer"], m["meter_id"], m["frames"], m["gateways"], m["usual"], m["best"], m["registered"])
            for m in heard] == [("KAM", "00000001", 5, 2, False, True, True)]
    assert heard[0]["median_rssi_dbm"] == -70.0
    heard2 = {m["meter_id"]: m for m in client.get("/v1/gateways/gw-2/meters").json()["items"]}
    assert (heard2["00000001"]["usual"], heard2["00000001"]["best"]) == (True, False)
    assert (heard2["00000002"]["usual"], heard2["00000002"]["best"], heard2["00000002"]["gateways"]) == (True, True, 1)
    assert (heard2["00000002"]["manufacturer"], heard2["00000002"]["registered"]) == ("APA", False)  # unknown

    coverage = client.get("/v1/coverage/meters/kam/00000001").json()["items"]
    assert [(c["gateway_id"], c["best"], c["usual"]) for c in coverage] == [("gw-1", True, False),
                                                                          ("gw-2", False, True)]
    assert client.get("/v1/coverage/meters/KAM/99999999").json()["items"] == []
    assert client.get("/v1/coverage/meters/KAM/xyz").status_code == 422


def test_history_is_kept_for_the_configured_hours(db_url: str) -> None:
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for h in range(30):
            registry.record_online(conn, gateway_id="gw-h", at=t0 + timedelta(hours=h), figures={"spool_depth": h},
                                   watchdog_resets=0, status={}, history_hours=24)
        history = registry.heartbeat_history(conn, gateway_id="gw-h", limit=100)
    assert len(history) == 25 and history[0]["spool_depth"] == 5 and history[-1]["spool_depth"] == 29
