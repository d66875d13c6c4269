"""API conventions, continued: conditional reads (ETag), CORS, the rate limit, the in-flight limit and the
offline documentation pages (fixtures and helpers from ``test_conventions``)."""

from __future__ import annotations

import asyncio
import re
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from serving import auth_headers, create_key
from test_conventions import T0, _client, assert_problem, client, seeded

from api.limits import InFlightLimit, RateLimit
from core.types import Reading
from storage.writer import write_batch

with warnings.catch_warnings():  # starlette asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["client", "seeded"]  # fixtures used here


# ---------------------------------------------------------------- ETag, CORS, rate limit


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/billing/readings", {"at": "2026-11-04T12:00:00Z"}),
    ("/v1/meters/00000002/readings", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-05T00:00:00Z"}),
    ("/v1/service-points/SP-2/consumption", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-05T00:00:00Z"}),
])
def test_etag_answers_304_until_the_data_changes(seeded: tuple[str, dict[str, str]], client: TestClient,
                                                 path: str, params: dict[str, str]) -> None:
    first = client.get(path, params=params)
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('W/"')
    again = client.get(path, params=params, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert client.get(path, params=params, headers={"If-None-Match": '"other"'}).status_code == 200
    late = Reading(meter_id="00000002", manufacturer="KAM", measured_at=T0 + timedelta(hours=80),
                   received_at=T0 + timedelta(hours=80), total_m3=9.0)
    with psycopg.connect(seeded[0], autocommit=True) as conn:
        write_batch(conn, readings=[late])
    changed = client.get(path, params=params, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_cors_is_off_by_default_and_configurable(seeded: tuple[str, dict[str, str]], client: TestClient) -> None:
    origin = {"Origin": "https://billing.example"}
    assert "access-control-allow-origin" not in client.get("/v1/meters", headers=origin).headers
    with _client(*seeded, cors_origins=("https://billing.example",)) as c:
        resp = c.get("/v1/meters", headers=origin)
        assert resp.headers["access-control-allow-origin"] == "https://billing.example"
        assert "ETag" in resp.headers["access-control-expose-headers"]
        pre = c.options("/v1/meters", headers={**origin, "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 200
        other = c.get("/v1/meters", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_rate_limit_per_credential(seeded: tuple[str, dict[str, str]]) -> None:
    db_url, admin = seeded
    other = auth_headers(create_key(db_url, "admin"))
    with _client(db_url, rate_limit_per_s=0.5, rate_limit_burst=5) as c:
        codes = [c.get("/v1/meters", params={"limit": 1}, headers=admin).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        limited = c.get("/v1/meters", headers=admin)
        assert_problem(limited, 429, "rate-limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert c.get("/v1/meters", params={"limit": 1}, headers=other).status_code == 200  # its own bucket
        assert c.get("/healthz").status_code == 200  # probes are never limited
        assert [c.get("/v1/meters").status_code for _ in range(6)][-1] == 429  # anonymous: by address


def test_in_flight_limit_queues_requests_without_holding_threads() -> None:
    running, peak = 0, 0

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = InFlightLimit(slow_app, max_in_flight=3)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return [r.status_code for r in await asyncio.gather(*(c.get("/v1/x") for _ in range(20)))]

    assert asyncio.run(main()) == [200] * 20 and peak == 3
    gate_busy = InFlightLimit(slow_app, max_in_flight=1, wait_s=0.001)

    async def busy() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate_busy), base_url="http://t") as c:
            return sorted(r.status_code for r in await asyncio.gather(*(c.get("/v1/x") for _ in range(3))))

    assert asyncio.run(busy()) == [200, 503, 503]


def test_token_bucket_refills_at_the_rate() -> None:
    limiter = RateLimit(app=None, rate_per_s=2.0, burst=3)  # type: ignore[arg-type]
    assert [limiter.take(b"k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(b"k", 0.0) == pytest.approx(0.5)
    assert limiter.take(b"k", 0.5) == 0.0  # one token back after 1/rate s
    assert limiter.take(b"k", 100.0) == 0.0  # capped at the burst …
    assert [limiter.take(b"k", 100.0) for _ in range(3)][-1] == pytest.approx(0.5)  # … not 200 tokens
    scope = {"type": "http", "headers": [(b"authorization", b"Bearer odk_secret")], "client": ("1.2.3.4", 1)}
    assert b"odk_secret" not in RateLimit.client_key(scope)


# ---------------------------------------------------------------- offline docs


def test_docs_are_served_from_the_package(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html.text) + re.findall(r"url: '([^']+)'", html.text)
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert not re.search(r"https?://", html.text), page
        for url in urls:
            assert client.get(url).status_code == 200, url
    root = Path(__file__).resolve().parents[2] / "api" / "static" / "docs"
    assert (root / "swagger-ui" / "LICENSE").is_file() and (root / "redoc" / "LICENSE").is_file()
