"""The dashboard summary splits frames not decoded by why: registered meters awaiting a key, unknown meters
(candidates to register, listed with manufacturer and id), decoder failures."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.ids import meter_key
from storage.rows import FrameStatus

pytestmark = pytest.mark.services

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KNOWN, STRANGER, OTHER = meter_key("KAM", "00000001"), meter_key("APA", "12345678"), meter_key("DME", "87654321")


def test_awaiting_a_key_counts_only_registered_meters(db_url: str, make_api_key: Callable[..., str]) -> None:
    now = datetime.now(UTC)
    frames = [(KNOWN, FrameStatus.KEY_MISSING)] * 2 + [(KNOWN, FrameStatus.WRONG_KEY)] \
        + [(STRANGER, FrameStatus.UNKNOWN_METER)] * 3 + [(OTHER, FrameStatus.UNKNOWN_METER)] \
        + [(KNOWN, FrameStatus.DECODE_ERROR)]
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (%s, 'KAM', '00000001')", (KNOWN,))
        conn.execute("INSERT INTO gateways (id, state, last_seen_at) VALUES ('gw-1', 'online', now()), "
                     "('gw-2', 'offline', now())")
        for i, (key, status) in enumerate(frames):
            at = now - timedelta(minutes=i + 1)
            conn.execute(
                "INSERT INTO raw_frames (received_at, frame_digest, link_key, meter_key, payload, status, gateways, "
                "rssi_dbm, heard_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (at, i.to_bytes(8, "big"), key, key, b"\x00", int(status), ["gw-1", "gw-2"], [-80.0 - i, -99.0],
                 [at, at]))
    key = make_api_key(db_url, "operations", name="ops")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        s = client.get("/v1/dashboard/summary").json()
        assert (s["frames_undecoded"], s["frames_awaiting_key"], s["frames_unknown_meters"],
                s["unknown_meters_heard"], s["frames_decode_errors"]) == (8, 3, 4, 2, 1)
        assert (s["gateways"], s["gateways_online"]) == (2, 1)
        metrics = client.get("/metrics").text
        assert 'odczyt_db_gateways{state="online"} 1.0' in metrics and "odczyt_db_frames_awaiting_key 3.0" in metrics
        unknown = client.get("/v1/dashboard/unknown-meters").json()["items"]
        page = client.get("/v1/dashboard/unknown-meters", params={"limit": 1}).json()
        rest = client.get("/v1/dashboard/unknown-meters", params={"limit": 1, "cursor": page["next"]}).json()
        assert [u["meter_id"] for u in page["items"] + rest["items"]] == ["12345678", "87654321"]
        assert rest["next"] is None
    assert [(u["manufacturer"], u["meter_id"], u["frames"], u["receptions"], u["gateways"]) for u in unknown] == [
        ("APA", "12345678", 3, 6, ["gw-1", "gw-2"]), ("DME", "87654321", 1, 2, ["gw-1", "gw-2"])]
    assert unknown[0]["best_rssi_dbm"] == -83.0
