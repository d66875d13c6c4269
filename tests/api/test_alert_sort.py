"""GET /v1/alerts?sort=: each sort's order across keyset pages, and cursors bound to their sort."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app

pytestmark = pytest.mark.services

with warnings.catch_warnings():  # starlette ≥ 1 asks for httpx2, which is not a project dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SEV = {"critical": 0, "warning": 1, "info": 2}
STATE = {"open": 0, "acknowledged": 1, "resolved": 2, "dismissed": 3}


def _seed(db_url: str, n: int = 37) -> None:
    rnd = random.Random(15)
    with psycopg.connect(db_url) as conn:
        for i in range(n):
            # a few alerts share one opened_at: ties are broken by id
            at = T0 + timedelta(minutes=rnd.randrange(12))
            conn.execute(
                "INSERT INTO alerts (kind, subject, area, severity, state, dedupe_key, evidence, detected_at, "
                "opened_at) VALUES (%s, %s, %s, %s, %s, %s, '{}', %s, %s)",
                (rnd.choice(["silent", "leak", "backflow"]), f"s:{i}", rnd.choice(["N", "S", None]),
                 rnd.choice(list(SEV)), rnd.choice(list(STATE)), f"d{i}", at, at))


Row = dict[str, Any]


def _expected(rows: list[Row], sort: str) -> list[int]:
    def newest(r: Row) -> tuple[Any, ...]:
        return (-datetime.fromisoformat(r["opened_at"]).timestamp(), -r["id"])
    keys: dict[str, Callable[[Row], tuple[Any, ...]]] = {
        "-opened_at": newest,
        "opened_at": lambda r: tuple(-x for x in newest(r)),
        "-severity": lambda r: (SEV[r["severity"]], *newest(r)),
        "state": lambda r: (STATE[r["state"]], *newest(r)),
        "kind": lambda r: (r["kind"], *newest(r)),
        "area": lambda r: (r["area"] or "", *newest(r)),
    }
    return [r["id"] for r in sorted(rows, key=keys[sort])]


@pytest.mark.parametrize("sort", ["-opened_at", "opened_at", "-severity", "state", "kind", "area"])
def test_every_sort_pages_in_order(db_url: str, make_api_key: Callable[..., str], sort: str) -> None:
    _seed(db_url)
    key = make_api_key(db_url, "operations")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        everything = client.get("/v1/alerts", params={"limit": 1000}).json()["items"]
        assert len(everything) == 37
        seen: list[int] = []
        params: dict[str, str | int] = {"sort": sort, "limit": 5}
        while True:
            page = client.get("/v1/alerts", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            seen += [a["id"] for a in body["items"]]
            if body["next"] is None:
                break
            params["cursor"] = body["next"]
        assert seen == _expected(everything, sort)
        # a filter keeps the sort
        opened = client.get("/v1/alerts", params={"sort": sort, "state": "open", "limit": 1000}).json()["items"]
        assert [a["id"] for a in opened] == _expected([a for a in everything if a["state"] == "open"], sort)


def test_cursor_of_another_sort_is_a_problem(db_url: str, make_api_key: Callable[..., str]) -> None:
    _seed(db_url, 6)
    key = make_api_key(db_url, "operations")
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        by_kind = client.get("/v1/alerts", params={"sort": "kind", "limit": 2}).json()["next"]
        newest = client.get("/v1/alerts", params={"limit": 2}).json()["next"]
        for sort, cursor in (("-severity", by_kind), ("-opened_at", by_kind), ("kind", newest), ("area", by_kind)):
            bad = client.get("/v1/alerts", params={"sort": sort, "cursor": cursor, "limit": 2})
            assert bad.status_code == 422, (sort, bad.text)
            assert bad.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/alerts", params={"sort": "kind", "cursor": by_kind}).status_code == 200
        assert client.get("/v1/alerts", params={"sort": "address"}).status_code == 422
