"""The security audit's API findings, replayed against the real server (``odczyt serve`` on a free port) with
its default settings: 1,000 rapid requests, a 20 MB note, year 9999, huge offsets and cursors, NUL bytes, and
one consumption request over a century of days."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serving import auth_headers, create_key
from test_conventions import seed

PROBLEM = "application/problem+json"


@pytest.fixture
def served(db_url: str, tmp_path: Path, api_server: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client of the real server over a seeded database, with an admin key; and the database URL."""
    seed(db_url, tmp_path, meters=3, hours=48, alerts=3)
    with httpx.Client(base_url=api_server, headers=auth_headers(create_key(db_url, "admin")), timeout=30) as c:
        yield c, db_url


def _problem(resp: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = resp.json()
    assert body["type"] == f"urn:odczyt:problem:{kind}"
    return body


def test_a_thousand_rapid_requests_are_rate_limited(served: tuple[httpx.Client, str]) -> None:
    client, _ = served
    started = time.monotonic()
    answers = [client.get("/v1/meters", params={"limit": 1}) for _ in range(1000)]
    elapsed = time.monotonic() - started
    limited = [r for r in answers if r.status_code == 429]
    allowed = 100 + 20 * elapsed + 1  # the default burst and refill
    assert len(limited) >= 1000 - allowed and {r.status_code for r in answers} == {200, 429}
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    _problem(limited[0], 429, "rate-limited")


def test_a_20_mb_note_is_refused_with_413(served: tuple[httpx.Client, str]) -> None:
    client, _ = served
    resp = client.post("/v1/alerts/1/ack", json={"note": "x" * (20 * 2**20)})
    _problem(resp, 413, "body-too-large")
    ack = client.post("/v1/alerts/1/ack", json={"note": "ok"})  # the server is fine afterwards
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/billing/readings", {"at": "9999-12-31T23:59:59Z"}),
    ("/v1/service-points/SP-1/consumption", {"from": "9999-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"}),
    ("/v1/meters/00000001/readings", {"from": "0001-01-01T00:00:00+01:00", "to": "2026-11-02T00:00:00Z"}),
    ("/v1/alerts", {"meter_key": str(2**63)}),
    ("/v1/alerts/9223372036854775808", {}),
    ("/v1/meters", {"cursor": "A" * 300}),
    ("/v1/alerts", {"kind": "leak\x00"}),
    ("/v1/service-points/SP%001/consumption", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}),
])
def test_bad_input_is_422_never_500(served: tuple[httpx.Client, str], path: str, params: dict[str, str]) -> None:
    _problem(served[0].get(path, params=params), 422, "validation")


def test_a_century_of_days_is_refused_and_long_hourly_ranges_are_paged(served: tuple[httpx.Client, str]) -> None:
    client, _ = served
    started = time.monotonic()
    century = client.get("/v1/service-points/SP-1/consumption",
                         params={"from": "2000-01-01T00:00:00Z", "to": "2099-12-31T00:00:00Z", "interval": "day"})
    assert "400 days" in str(_problem(century, 422, "validation")["detail"])
    hours = client.get("/v1/service-points/SP-1/consumption",
                       params={"from": "2025-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "interval": "hour"})
    assert hours.status_code == 200 and len(hours.json()["items"]) == 1000 and hours.json()["next"]
    assert len(hours.content) < 1_000_000 and time.monotonic() - started < 20


def test_64_concurrent_requests_all_complete(served: tuple[httpx.Client, str]) -> None:
    """More requests in flight than the pool has connections used to hang the server until the pool timeout."""
    client, _ = served
    params = {"manufacturer": "KAM", "from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z"}

    def one(_: int) -> int:
        with httpx.Client(base_url=str(client.base_url), headers=dict(client.headers), timeout=30) as c:
            return c.get("/v1/meters/00000002/readings", params=params).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        codes = list(pool.map(one, range(64)))
    assert codes == [200] * 64 and time.monotonic() - started < 25
