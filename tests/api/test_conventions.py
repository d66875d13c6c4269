"""API conventions (docs/api.md "Conventions") through the app in-process: problems, keyset pages, caps, ETags,
CORS, rate limit, body limit, offline docs — and a regression test for each finding of the security audit."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from serving import auth_headers, create_key

from api.app import create_app
from api.auth import public
from api.pagination import encode_cursor
from api.routers.billing import BillingReadingOut
from api.routers.consumption import PeriodOut
from api.routers.readings import ReadingOut
from core.ids import meter_key
from core.settings import ApiSettings
from core.types import Alarm, Reading, ReadingSource
from pipeline.registry_import import import_meters_csv
from storage.alerts import insert_alert
from storage.queries import BillingReading, ConsumptionPeriod, meter_readings
from storage.queries_json import READING_FIELDS, meter_readings_json
from storage.writer import write_batch

with warnings.catch_warnings():  # starlette asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 11, 1, tzinfo=UTC)
METERS = 7
PROBLEM = "application/problem+json"


def seed(db_url: str, tmp: Path, *, meters: int = METERS, hours: int = 72, alerts: int = 9) -> None:
    """``meters`` meters (KAM 00000001…) at SP-1…, ``hours`` hourly readings each from T0, ``alerts`` alerts."""
    path = tmp / "meters.csv"
    lines = [f"KAM,{i:08d},SP-{i},2026-01-01T00:00:00Z,0" for i in range(1, meters + 1)]
    path.write_text("manufacturer,meter_id,service_point_id,installed_at,initial_m3\n" + "\n".join(lines) + "\n")
    import_meters_csv(db_url, path, master_key=None)
    rows = [Reading(meter_id=f"{i:08d}", manufacturer="KAM", measured_at=T0 + timedelta(hours=h),
                    received_at=T0 + timedelta(hours=h), total_m3=i + h * 0.01)
            for i in range(1, meters + 1) for h in range(hours)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=rows)
        for n in range(alerts):  # two share an opened_at: the keyset needs the id as tie-breaker
            insert_alert(conn, kind="continuous_flow", subject=f"meter:{n}", meter_key=None,
                         service_point_id=None, severity="warning", dedupe_key=f"d{n}", evidence={"n": n},
                         detected_at=T0, now=T0 + timedelta(minutes=n - (n == 1)))


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A seeded database and an admin's headers."""
    seed(db_url, tmp_path)
    return db_url, auth_headers(create_key(db_url, "admin"))


def _client(db_url: str, headers: dict[str, str] | None = None, **api: Any) -> TestClient:
    conf = ApiSettings(**{"rate_limit_per_s": 0, **api})
    return TestClient(create_app(db_url, registry=CollectorRegistry(), api=conf), headers=headers or {})


@pytest.fixture
def client(seeded: tuple[str, dict[str, str]]) -> Iterator[TestClient]:
    with _client(*seeded) as c:
        yield c


def assert_problem(resp: Any, status: int, kind: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of ``status`` with type ``urn:odczyt:problem:<kind>``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"urn:odczyt:problem:{kind}" and body["status"] == status and body["title"]
    assert body["instance"] == resp.request.url.path and body["request_id"] == resp.headers["x-request-id"]
    return body


# ---------------------------------------------------------------- problems


def test_errors_of_every_kind_are_problems(seeded: tuple[str, dict[str, str]]) -> None:
    db_url, admin = seeded
    crew = auth_headers(create_key(db_url, "crew"))
    with _client(db_url) as c:
        assert_problem(c.get("/v1/meters"), 401, "unauthenticated")
        assert_problem(c.get("/v1/meters", headers=crew), 403, "forbidden")
        assert_problem(c.get("/v1/nothing-here", headers=admin), 404, "not-found")
        assert_problem(c.get("/v1/alerts/999999", headers=admin), 404, "not-found")
        allowed = assert_problem(c.delete("/v1/meters", headers=admin), 405, "method-not-allowed")
        assert allowed["detail"]
        body = assert_problem(c.get("/v1/meters", params={"limit": 0}, headers=admin), 422, "validation")
        assert body["invalid_params"] == [{"where": "query", "name": "limit", "reason": body["invalid_params"][0]
                                           ["reason"]}] and "1" in body["invalid_params"][0]["reason"]
        missing = assert_problem(c.get("/v1/billing/readings", headers=admin), 422, "validation")
        assert missing["invalid_params"][0]["name"] == "at"


def test_conflict_is_a_problem(db_url: str, tmp_path: Path) -> None:
    seed(db_url, tmp_path, meters=1, alerts=0)
    (tmp_path / "apa.csv").write_text("manufacturer,meter_id\nAPA,00000001\n")
    import_meters_csv(db_url, tmp_path / "apa.csv", master_key=None)
    with _client(db_url, auth_headers(create_key(db_url, "admin"))) as c:
        resp = c.get("/v1/meters/00000001/readings", params={"from": "2026-11-01T00:00:00Z",
                                                              "to": "2026-11-02T00:00:00Z"})
        assert "manufacturer" in assert_problem(resp, 409, "conflict")["detail"]


def test_unexpected_error_is_a_500_problem_without_internals(seeded: tuple[str, dict[str, str]],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    db_url = seeded[0]
    app = create_app(db_url, registry=CollectorRegistry(), api=ApiSettings(rate_limit_per_s=0))

    def boom() -> None:
        raise RuntimeError("secret internal detail /srv/odczyt/password=hunter2")

    app.add_api_route("/v1/boom", boom, dependencies=[public()])
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="odczyt.api"):
        resp = c.get("/v1/boom", headers={"X-Request-ID": "req-42"})
    body = assert_problem(resp, 500, "internal")
    assert body["request_id"] == "req-42" and "hunter2" not in resp.text and "RuntimeError" not in resp.text
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)


def test_openapi_declares_problems_and_pagination_everywhere(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Problem"]["properties"]["type"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert PROBLEM in responses["default"]["content"], (method, path)
            for code, resp in responses.items():
                if code[0] in "45":
                    assert list(resp["content"]) == [PROBLEM], (method, path, code)
            schema = responses.get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            props = doc["components"]["schemas"].get(ref, {}).get("properties", {})
            assert schema.get("type") != "array", f"{method} {path}: a bare array; use the page envelope"
            if "items" in props:  # a list: it must be keyset-paged
                names = {p["name"] for p in op.get("parameters", ())}
                assert {"limit", "cursor"} <= names and "offset" not in names, (method, path)
                assert "next" in props


# ---------------------------------------------------------------- keyset pagination


def _walk(c: TestClient, path: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        resp = c.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            assert "link" not in resp.headers
            return items
        link = re.fullmatch(r'<(.+)>; rel="next"', resp.headers["link"])
        assert link and f"cursor={cursor}" in link.group(1)
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(("path", "params", "limit"), [
    ("/v1/meters", {}, 2),
    ("/v1/alerts", {}, 2),
    ("/v1/alerts", {"state": "open"}, 4),
    ("/v1/billing/readings", {"at": "2026-11-02T12:00:00Z"}, 3),
    ("/v1/meters/00000003/readings", {"from": "2026-11-01T05:00:00Z", "to": "2026-11-03T00:00:00Z"}, 7),
    ("/v1/service-points/SP-2/consumption", {"from": "2026-10-31T23:00:00Z", "to": "2026-11-03T23:00:00Z"}, 1),
    ("/v1/service-points/SP-2/consumption", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z",
                                             "interval": "hour"}, 5),
])
def test_pages_walk_the_whole_list_once(client: TestClient, path: str, params: dict[str, Any], limit: int) -> None:
    whole = client.get(path, params={**params, "limit": 10_000}).json()
    assert whole["next"] is None and len(whole["items"]) > limit
    assert _walk(client, path, params, limit) == whole["items"]


def test_alerts_come_newest_first_across_pages(client: TestClient) -> None:
    items = _walk(client, "/v1/alerts", {}, 2)
    keys = [(a["opened_at"], a["id"]) for a in items]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 9


@pytest.mark.parametrize("cursor", [
    "garbage", "x.y", "e30.AAAAAAAAAAA", encode_cursor("alerts", (T0, 1)) + "A",
    encode_cursor("alerts", (T0, 1)),  # a cursor of another list
    encode_cursor("meters", ("KAM",)),  # wrong length
    encode_cursor("meters", (2**70, "x")),  # wrong types
    encode_cursor("meters", ("K\x00M", "00000001")),  # NUL inside
    "A" * 600,  # no checksum
    "A" * 3000,  # too long
])
def test_a_bad_cursor_is_a_422_problem(client: TestClient, cursor: str) -> None:
    body = assert_problem(client.get("/v1/meters", params={"cursor": cursor}), 422, "validation")
    assert body["invalid_params"][0]["name"] == "cursor"


def test_huge_offsets_and_ids_are_422_not_500(client: TestClient) -> None:
    huge = str(2**63)
    assert_problem(client.get("/v1/alerts", params={"meter_key": huge}), 422, "validation")
    assert_problem(client.get(f"/v1/alerts/{huge}"), 422, "validation")
    assert_problem(client.get("/v1/meters", params={"limit": 10**30}), 422, "validation")
    forged = encode_cursor("alerts", (T0, 2**63))  # a well-formed cursor with an out-of-range id
    assert_problem(client.get("/v1/alerts", params={"cursor": forged}), 422, "validation")
    assert client.get("/v1/meters", params={"offset": huge}).status_code == 200  # OFFSET paging is gone


# ---------------------------------------------------------------- caps and bad input


@pytest.mark.parametrize(("path", "params", "name"), [
    ("/v1/billing/readings", {"at": "9999-12-31T23:59:59Z"}, "at"),
    ("/v1/billing/readings", {"at": "2026-11-02T00:00:00Z", "target_date": "9999-12-31"}, "target_date"),
    ("/v1/billing/readings", {"at": "0001-01-01T00:00:00+01:00"}, "at"),
    ("/v1/billing/readings", {"at": "2026-11-02T00:00:00"}, "at"),  # no time zone
    ("/v1/meters/00000001/readings", {"from": "2026-11-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, "to"),
    ("/v1/service-points/SP-1/consumption", {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T00:00:00Z",
                                             "interval": "month"}, "from"),
])
def test_times_out_of_range_are_422(client: TestClient, path: str, params: dict[str, str], name: str) -> None:
    body = assert_problem(client.get(path, params=params), 422, "validation")
    assert name in [p["name"] for p in body["invalid_params"]]


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("get", "/v1/alerts", {"params": {"kind": "leak\x00"}}),
    ("get", "/v1/alerts", {"params": {"area": "\x00"}}),
    ("get", "/v1/service-points/SP%001/consumption", {"params": {"from": "2026-11-01T00:00:00Z",
                                                                  "to": "2026-11-02T00:00:00Z"}}),
    ("get", "/v1/meters", {"params": {"cursor\x00": "x"}}),
    ("post", "/v1/alerts/1/ack", {"json": {"note": "a\x00b"}}),
    ("post", "/v1/alerts/1/dismiss", {"json": {"reason": "garden\x00"}}),  # found by tests/api/test_fuzz.py
    ("post", "/v1/alerts/1/comments", {"json": {"text": "\x00"}}),
])
def test_nul_bytes_are_422(client: TestClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
    assert_problem(getattr(client, method)(path, **kwargs), 422, "validation")


def test_consumption_range_is_capped_and_pages_are_bounded(client: TestClient) -> None:
    sp = "/v1/service-points/SP-1/consumption"
    long = client.get(sp, params={"from": "2000-01-01T00:00:00Z", "to": "2099-12-31T00:00:00Z", "interval": "day"})
    assert "400 days" in assert_problem(long, 422, "validation")["detail"]
    year = client.get(sp, params={"from": "2025-10-31T23:00:00Z", "to": "2026-10-31T23:00:00Z", "interval": "day"})
    assert year.status_code == 200 and len(year.json()["items"]) == 365 and year.json()["next"] is None
    hours = client.get(sp, params={"from": "2025-11-01T00:00:00Z", "to": "2026-11-01T00:00:00Z",
                                   "interval": "hour"}).json()
    assert len(hours["items"]) == 1000 and hours["next"]  # default page: 1,000 periods, then a cursor
    decade = client.get(sp, params={"from": "2016-12-31T23:00:00Z", "to": "2026-11-30T23:00:00Z",
                                    "interval": "month"})
    assert decade.status_code == 200 and len(decade.json()["items"]) == 119
    assert_problem(client.get(sp, params={"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
                   422, "validation")


def test_range_caps_come_from_settings(seeded: tuple[str, dict[str, str]]) -> None:
    with _client(*seeded, max_range_days=2) as c:
        resp = c.get("/v1/service-points/SP-1/consumption", params={"from": "2026-11-01T00:00:00Z",
                                                                      "to": "2026-11-04T00:00:00Z"})
        assert "2 days" in assert_problem(resp, 422, "validation")["detail"]


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    note = {"note": "x" * (20 * 2**20)}  # the audit stored a 20 MB note
    assert_problem(client.post("/v1/alerts/1/ack", json=note), 413, "body-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while buffering
        yield b'{"note": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}'

    resp = client.post("/v1/alerts/1/ack", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(resp, 413, "body-too-large")
    assert_problem(client.post("/v1/alerts/1/ack", json={"note": "z" * 2001}), 422, "validation")
    assert_problem(client.request("GET", "/v1/meters", content=b"x" * 70_000), 413, "body-too-large")
    ok = client.post("/v1/alerts/1/ack", json={"note": "checked on site"})
    assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"


def test_readings_json_from_postgresql_agrees_with_the_reading_model(db_url: str, tmp_path: Path) -> None:
    seed(db_url, tmp_path, meters=1, hours=3, alerts=0)
    odd = Reading(meter_id="00000001", manufacturer="KAM", measured_at=T0 + timedelta(hours=5, microseconds=250),
                  received_at=T0 + timedelta(hours=6), total_m3=None, target_m3=3.5, target_date=T0.date(),
                  backward_m3=0.25, flow_m3h=1e-9, alarms=frozenset({Alarm.LEAK, Alarm.BURST}),
                  source=ReadingSource.MANUAL, access_number=255)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[odd])
        key, span = meter_key("KAM", "00000001"), (T0, T0 + timedelta(days=1))
        page = meter_readings_json(conn, meter_key=key, start=span[0], end=span[1], limit=100)
        slow = meter_readings(conn, meter_key=key, start=span[0], end=span[1])
    assert tuple(ReadingOut.model_fields) == READING_FIELDS and page.count == len(slow) == 4 and not page.more
    expected = [ReadingOut(**{f: getattr(r, f) for f in READING_FIELDS if f not in ("alarms", "source")},
                           alarms=sorted(a.value for a in r.alarms), source=r.source.value) for r in slow]
    assert [ReadingOut.model_validate(x) for x in json.loads(page.items)] == expected
    assert page.last_at == odd.measured_at


def test_storage_rows_dumped_as_json_have_the_fields_of_the_response_models() -> None:
    assert tuple(PeriodOut.model_fields) == tuple(f.name for f in fields(ConsumptionPeriod))
    billing = tuple(f.name for f in fields(BillingReading) if f.name != "meter_key")
    assert tuple(BillingReadingOut.model_fields) == billing
