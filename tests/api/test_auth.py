"""Every route of the OpenAPI document against real uvicorn: anonymous, each role, revoked and expired keys, scope.

The route table is derived from the served OpenAPI document: a route without ``x-roles`` fails the test, and
each operation is called as every role (allowed → neither 401 nor 403; not allowed → 403).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from api.auth import Role

pytestmark = pytest.mark.services
NO_RATE_LIMIT = {"ODCZYT_API__RATE_LIMIT_PER_S": "0"}
Start = Callable[..., AbstractContextManager[str]]


def _sample(name: str, schema: dict[str, Any]) -> str:
    """A plausible value for a path or query parameter (validity does not matter to auth, which runs first)."""
    if schema.get("format") == "date-time" or name in ("from", "to", "at", "since", "until"):
        return "2026-11-02T00:00:00Z" if name in ("to", "until") else "2026-11-01T00:00:00Z"
    if schema.get("type") == "integer":
        return "1"
    pattern = schema.get("pattern", "")
    if "0-9A-Fa-f" in pattern:
        return "00000001"
    if re.fullmatch(r"\^\[A-Za-z\]\{3\}\$", pattern):
        return "KAM"
    return "SP-1"


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, concrete URL path + query, operation) for every operation in the document."""
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            concrete, query = path, {}
            for p in op.get("parameters", []):
                value = _sample(p["name"], p.get("schema", {}))
                if p["in"] == "path":
                    concrete = concrete.replace("{" + p["name"] + "}", value)
                elif p["in"] == "query" and p.get("required"):
                    query[p["name"]] = value
            out.append((method.upper(), str(httpx.URL(concrete, params=query)), op))
    return out


def _call(base: str, method: str, url: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return httpx.request(method, base + url, headers=headers, json=body, timeout=30)


def test_every_route_declares_roles_and_enforces_them(db_url: str, start_api_server: Start,
                                                       make_api_key: Callable[..., str]) -> None:
    keys = {role: make_api_key(db_url, role.value) for role in Role}
    with start_api_server(db_url, env=NO_RATE_LIMIT) as base:
        schema = httpx.get(f"{base}/openapi.json", timeout=10).json()
        ops = operations(schema)
        assert len(ops) >= 10
        undeclared = [f"{m} {u}" for m, u, op in ops if "x-roles" not in op]
        assert not undeclared, f"routes without declared roles: {undeclared}"
        assert set(schema["components"]["securitySchemes"]) >= {"apiKey", "oidc", "session"}
        checked = 0
        for method, url, op in ops:
            roles = op["x-roles"]
            anon = _call(base, method, url, None)
            if not roles:  # public: health probes and the login endpoint
                assert anon.status_code not in (401, 403), (method, url, anon.status_code)
                assert op["security"] == []
                continue
            assert anon.status_code == 401, (method, url, anon.status_code, anon.text)
            assert anon.headers["www-authenticate"].startswith("Bearer")
            assert "admin" in roles
            for role, key in keys.items():
                resp = _call(base, method, url, key)
                if role.value in roles:
                    assert resp.status_code not in (401, 403), (role, method, url, resp.status_code, resp.text)
                else:
                    assert resp.status_code == 403, (role, method, url, resp.status_code, resp.text)
                checked += 1
        assert checked >= 10 * len(Role)


def test_bad_revoked_and_expired_keys_are_401(db_url: str, start_api_server: Start,
                                              make_api_key: Callable[..., str]) -> None:
    from api.auth_admin import revoke_api_key

    good = make_api_key(db_url, "billing", name="billing-export")
    revoked = make_api_key(db_url, "billing", name="old-export")
    expired = make_api_key(db_url, "billing", name="short-lived", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with psycopg.connect(db_url, autocommit=True) as conn:
        revoke_api_key(conn, ident="old-export", actor="test")
    url = "/v1/meters"
    with start_api_server(db_url, env=NO_RATE_LIMIT) as base:
        assert httpx.get(base + url, headers={"Authorization": f"Bearer {good}"}).status_code == 200
        tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
        for bad in (revoked, tampered, "odk_aaaaaaaaaa_nope", "odk_bad", "not-a-key"):
            resp = httpx.get(base + url, headers={"Authorization": f"Bearer {bad}"})
            assert resp.status_code == 401, (bad, resp.text)
            assert 'error="invalid_token"' in resp.headers["www-authenticate"]
        assert httpx.get(base + url, headers={"Authorization": f"Basic {good}"}).status_code == 401
        resp = httpx.get(base + url, headers={"Authorization": f"Bearer {expired}"})
        assert resp.status_code == 401 and "expired" in resp.text
        with psycopg.connect(db_url) as conn:
            query = "SELECT name, last_used_at FROM api_keys"
            first = dict(conn.execute(query).fetchall())
            assert httpx.get(base + url, headers={"Authorization": f"Bearer {good}"}).status_code == 200
            assert dict(conn.execute(query).fetchall()) == first  # written at most once a minute
    assert first["billing-export"] is not None and first["old-export"] is None


def _seed_two_service_points(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (1, 'KAM', '00000001'), "
                     "(2, 'KAM', '00000002')")
        conn.execute("INSERT INTO service_points (id) VALUES ('SP-1'), ('SP-2')")
        conn.execute("INSERT INTO installations (service_point_id, meter_key, installed_at) VALUES "
                     "('SP-1', 1, '2026-01-01T00:00:00Z'), ('SP-2', 2, '2026-01-01T00:00:00Z')")


def test_scoped_portal_key_reads_only_its_service_points(db_url: str, start_api_server: Start,
                                                          make_api_key: Callable[..., str]) -> None:
    _seed_two_service_points(db_url)
    portal = {"Authorization": f"Bearer {make_api_key(db_url, 'portal', ['SP-1'])}"}
    span = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
    with start_api_server(db_url, env=NO_RATE_LIMIT) as base:
        assert httpx.get(f"{base}/v1/service-points/SP-1/consumption", params=span, headers=portal).status_code == 200
        assert httpx.get(f"{base}/v1/service-points/SP-2/consumption", params=span, headers=portal).status_code == 403
        assert httpx.get(f"{base}/v1/meters/00000001/readings", params=span, headers=portal).status_code == 200
        assert httpx.get(f"{base}/v1/meters/00000002/readings", params=span, headers=portal).status_code == 403
        # before the meter was installed at SP-1: outside the scope too
        early = {"from": "2025-11-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
        assert httpx.get(f"{base}/v1/meters/00000001/readings", params=early, headers=portal).status_code == 403
        # an unknown meter is a 403 for a scoped caller (no probing of the fleet), fleet-wide lists are 403
        assert httpx.get(f"{base}/v1/meters/0000000F/readings", params=span, headers=portal).status_code == 403
        for fleet in ("/v1/meters", "/v1/alerts", "/v1/dashboard/summary", "/metrics"):
            assert httpx.get(base + fleet, headers=portal).status_code == 403, fleet
        assert httpx.get(f"{base}/v1/billing/readings", params={"at": "2026-11-01T00:00:00Z"},
                         headers=portal).status_code == 403


def test_readyz_is_503_while_a_migration_is_pending(db_url: str, start_api_server: Start) -> None:
    with start_api_server(db_url) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute("DELETE FROM schema_migrations WHERE version = (SELECT max(version) "
                               "FROM schema_migrations) RETURNING version, name, checksum").fetchone()
            assert row is not None
            resp = httpx.get(f"{base}/readyz")
            assert resp.status_code == 503 and resp.json()["pending"] == [row[1]]
            assert httpx.get(f"{base}/healthz").status_code == 200  # liveness does not depend on the DB
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)", row)
        assert httpx.get(f"{base}/readyz").status_code == 200
