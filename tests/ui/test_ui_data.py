"""The dashboard's read endpoints over the seeded town (no browser): read rate per area, map arrays and state
bits, the drill-down, gateway coverage, pipeline health, map base layer settings, and the role check."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.settings import ApiSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def client(ui_db: tuple[str, dict[str, int]]) -> Iterator[TestClient]:
    from tests.api.serving import create_key

    key = create_key(ui_db[0], "operations", name="ui-data")
    api = ApiSettings(map_base="wms", map_wms_url="http://gis.local/wms", map_wms_layers="dzialki")
    with TestClient(create_app(ui_db[0], registry=CollectorRegistry(), api=api),
                    headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def test_read_rate_per_area_and_mode(client: TestClient) -> None:
    body = client.get("/v1/ui/overview").json()
    rate = body["read_rate"]
    # N06 is read through a meter-stored value only; N01's stored value does not count twice; S05's is dated
    # before the period
    assert (rate["active"], rate["read"], rate["actual"], rate["meter_stored"]) == (13, 6, 5, 1)
    assert (rate["share"], rate["share_actual"], rate["share_meter_stored"]) == (0.4615, 0.3846, 0.0769)
    rows = {(r["area"], r["read_mode"]): (r["active"], r["read"], r["actual"], r["meter_stored"])
            for r in rate["rows"]}
    assert rows == {("north", "fixed"): (8, 5, 4, 1), ("south", "fixed"): (5, 1, 1, 0)}
    assert rate["by_read_mode"] == [{"read_mode": "fixed", "active": 13, "read": 6, "actual": 5, "meter_stored": 1,
                                     "share": 0.4615, "share_actual": 0.3846, "share_meter_stored": 0.0769}]
    assert body["frames_per_min"] == 25.0 and body["basis"] == "actual+meter_stored"


def test_map_data_compact_arrays_and_state_bits(client: TestClient) -> None:
    body = client.get("/v1/ui/map-data").json()
    bits = body["bits"]
    assert body["count"] == 13 and body["areas"] == ["north", "south"]
    assert {k: len(body[k]) for k in ("id", "lat", "lon", "area", "state")} == dict.fromkeys(
        ("id", "lat", "lon", "area", "state"), 13)
    state = dict(zip(body["id"], body["state"], strict=True))
    assert state["N01"] & bits["read"] and state["S01"] & bits["read"] and not state["S03"] & bits["read"]
    assert state["N06"] & bits["read"] and not state["S05"] & bits["read"]  # meter-stored in / before the period
    assert state["N02"] & bits["legal_expired"] and state["N03"] & bits["legal_due"]
    assert state["S02"] & bits["alert"] and not state["N04"] & bits["alert"]
    south = client.get("/v1/ui/map-data", params={"area": "south"}).json()
    assert south["count"] == 5 and set(south["area"]) == {1} and all(i.startswith("S") for i in south["id"])
    assert client.get("/v1/ui/map-data", params={"area": "nowhere"}).json()["count"] == 0


def test_alert_bit_is_live(client: TestClient, ui_db: tuple[str, dict[str, int]]) -> None:
    alert_id = ui_db[1]["S02"]
    before = client.get("/v1/ui/map-data", params={"area": "south"}).json()
    assert before["state"][before["id"].index("S02")] & before["bits"]["alert"]
    assert client.post(f"/v1/alerts/{alert_id}/resolve", json={"note": "naprawione"}).status_code == 200
    after = client.get("/v1/ui/map-data", params={"area": "south"}).json()
    assert not after["state"][after["id"].index("S02")] & after["bits"]["alert"]


def test_drilldown(client: TestClient) -> None:
    body: dict[str, Any] = client.get("/v1/ui/service-points/N01").json()
    assert body["service_point"]["customer_ref"] == "C-N01" and body["service_point"]["area"] == "north"
    assert [(i["manufacturer"], i["meter_id"]) for i in body["installations"]] == [("KAM", "10000001")]
    assert len(body["readings"]) == 72 and {r["basis"] for r in body["readings"]} == {"radio"}
    assert [a["kind"] for a in body["alerts"]] == ["continuous_flow"]
    rx = {r["gateway_id"]: r for r in body["receptions"]}
    assert rx["gw-krakow-1"]["best"] and rx["gw-krakow-1"]["frames"] == 6
    assert client.get("/v1/ui/service-points/NOPE").status_code == 404


def test_gateways_pipeline_and_map_config(client: TestClient) -> None:
    cov = {g["id"]: g["meters_heard"] for g in client.get("/v1/ui/gateway-coverage").json()["items"]}
    assert cov == {"gw-krakow-1": 3, "gw-krakow-2": 3}
    pipe = client.get("/v1/ui/pipeline").json()
    assert sum(n for _, n in pipe["frames_per_minute"]) == 3 and pipe["lag_s"] is not None  # 5, 25, 45 min ago
    two_hours = client.get("/v1/ui/pipeline", params={"minutes": 120}).json()["frames_per_minute"]
    assert sum(n for _, n in two_hours) == 6
    conf = client.get("/v1/ui/map-config").json()
    assert conf == {"base": "wms", "tiles_url": None, "wms_url": "http://gis.local/wms", "wms_layers": "dzialki",
                    "attribution": "© OpenStreetMap contributors"}


def test_other_roles_refused(client: TestClient, ui_db: tuple[str, dict[str, int]]) -> None:
    from tests.api.serving import create_key

    billing = create_key(ui_db[0], "billing", name="ui-billing")
    for path in ("/v1/ui/overview", "/v1/ui/map-data", "/v1/ui/service-points/N01"):
        assert client.get(path, headers={"Authorization": f"Bearer {billing}"}).status_code == 403
        assert client.get(path, headers={"Authorization": ""}).status_code == 401


def test_gateway_coverage_is_the_hull_of_what_it_heard(client: TestClient) -> None:
    """Positions from tests/ui/seed.py: N01 (50.084, 19.93), N02 (50.088, 19.93), N03 (50.092, 19.93), N08
    (50.08, 19.942), S01 (50.024, 19.96), S03 (50.032, 19.96); gateways at (50.085, 19.94) and (50.025, 19.97)."""
    week = {g["id"]: g for g in client.get("/v1/ui/gateway-coverage").json()["items"]}
    one = week["gw-krakow-1"]
    # N01, N02, N03 heard and the gateway itself; N02 lies on the N01–N03 edge, so it is no vertex
    assert one["coverage_points"] == 3
    assert one["coverage"] == [[50.084, 19.93], [50.085, 19.94], [50.092, 19.93]]
    # gw-krakow-2 heard N01 far north besides S01 and S03 (inside the hull): the shape reaches up to N01
    two = week["gw-krakow-2"]
    assert two["coverage_points"] == 3 and two["coverage"] == [[50.084, 19.93], [50.024, 19.96], [50.025, 19.97]]
    # over 30 days gw-krakow-1 also heard N08 (ten days ago): a fourth vertex, the gateway stays one
    month = {g["id"]: g for g in client.get("/v1/ui/gateway-coverage", params={"days": 30}).json()["items"]}
    assert month["gw-krakow-1"]["meters_heard"] == 4
    assert month["gw-krakow-1"]["coverage"] == [[50.084, 19.93], [50.08, 19.942], [50.085, 19.94], [50.092, 19.93]]
    # nothing heard in the last hour: no shape
    hour = client.get("/v1/ui/gateway-coverage", params={"days": 1 / 24}).json()["items"]
    assert [(g["coverage_points"], len(g["coverage"])) for g in hour] == [(1, 2), (1, 2)]
