"""Local users: login with a session cookie, CSRF refusal of a cookie write without the token, logout, audit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import psycopg
import pytest

from api.auth_admin import add_user, set_disabled, set_password

pytestmark = pytest.mark.services
Start = Callable[..., AbstractContextManager[str]]
PASSWORD = "correct horse battery"


def _alert(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO alerts (kind, subject, severity, dedupe_key, detected_at) VALUES "
                           "('continuous_flow', 'm:1', 'warning', 't1', now()) RETURNING id").fetchone()
    assert row is not None
    return int(row[0])


def _login(base: str, name: str, password: str, *, form: bool = False) -> httpx.Response:
    if form:
        return httpx.post(f"{base}/v1/session", data={"name": name, "password": password})
    return httpx.post(f"{base}/v1/session", json={"name": name, "password": password})


def test_login_csrf_logout_and_audit(db_url: str, start_api_server: Start, make_api_key: Callable[..., str]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_user(conn, name="anna", role="operations", password=PASSWORD, actor="test")
    alert_id = _alert(db_url)
    admin = {"Authorization": f"Bearer {make_api_key(db_url, 'admin')}"}
    with start_api_server(db_url, env={"ODCZYT_API__RATE_LIMIT_PER_S": "0"}) as base:
        assert _login(base, "anna", "wrong password").status_code == 401
        assert _login(base, "nobody", PASSWORD).status_code == 401
        resp = _login(base, "anna", PASSWORD)
        assert resp.status_code == 200, resp.text
        set_cookie = resp.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/"):
            assert attribute.lower() in set_cookie.lower(), set_cookie
        token = resp.cookies["odczyt_session"]
        csrf = resp.json()["csrf_token"]
        assert resp.json()["actor"] == "user:anna" and csrf
        cookie = {"Cookie": f"odczyt_session={token}"}  # sent by hand: the cookie is Secure, the test is plain HTTP

        assert httpx.get(f"{base}/v1/alerts", headers=cookie).status_code == 200
        assert httpx.get(f"{base}/v1/session", headers=cookie).json()["csrf_token"] == csrf
        assert httpx.get(f"{base}/v1/audit", headers=cookie).status_code == 403  # operations, not admin
        # a cookie write without (or with a wrong) CSRF token is refused and changes nothing
        for bad in ({}, {"X-CSRF-Token": "guess"}):
            refused = httpx.post(f"{base}/v1/alerts/{alert_id}/ack", headers={**cookie, **bad}, json={})
            assert refused.status_code == 403, refused.text
        assert httpx.get(f"{base}/v1/alerts/{alert_id}", headers=cookie).json()["state"] == "open"
        acked = httpx.post(f"{base}/v1/alerts/{alert_id}/ack", headers={**cookie, "X-CSRF-Token": csrf,
                                                                         "X-Request-ID": "req-42"},
                           json={"actor": "someone-else", "note": "on my way"})
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "user:anna"

        entries = httpx.get(f"{base}/v1/audit", params={"action": "alert.ack"}, headers=admin).json()["items"]
        assert [(e["actor"], e["subject"], e["before"], e["after"]["state"]) for e in entries] == [
            ("user:anna", f"alert:{alert_id}", {"state": "open"}, "acknowledged")]
        assert entries[0]["request_id"] == "req-42"  # the client's X-Request-ID, as in its logs

        assert httpx.delete(f"{base}/v1/session", headers=cookie).status_code == 403  # logout needs CSRF too
        assert httpx.delete(f"{base}/v1/session", headers={**cookie, "X-CSRF-Token": csrf}).status_code == 204
        assert httpx.get(f"{base}/v1/alerts", headers=cookie).status_code == 401

        form = _login(base, "anna", PASSWORD, form=True)
        assert form.status_code == 200
        cookie = {"Cookie": f"odczyt_session={form.cookies['odczyt_session']}"}
        assert httpx.get(f"{base}/v1/alerts", headers=cookie).status_code == 200
        with psycopg.connect(db_url, autocommit=True) as conn:
            set_password(conn, name="anna", password="another long one", actor="test")
        assert httpx.get(f"{base}/v1/alerts", headers=cookie).status_code == 401  # sessions end with the password
        assert _login(base, "anna", PASSWORD).status_code == 401
        with psycopg.connect(db_url, autocommit=True) as conn:
            set_disabled(conn, name="anna", disabled=True, actor="test")
        assert _login(base, "anna", "another long one").status_code == 401
        assert httpx.get(f"{base}/login").status_code == 200
        for _ in range(10 - 4):  # four wrong passwords above; the tenth closes the door for this address
            assert _login(base, "anna", "guess").status_code == 401
        throttled = _login(base, "anna", "another long one")
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        assert httpx.post(f"{base}/v1/session", content=b"name=x", headers={"Content-Type": "text/plain"}
                          ).status_code == 415


def test_audit_list_filters_and_keyset_pages(db_url: str, start_api_server: Start,
                                             make_api_key: Callable[..., str]) -> None:
    from storage import audit

    with psycopg.connect(db_url, autocommit=True) as conn:
        for i in range(25):
            audit.record(conn, actor="user:jan" if i % 2 else "key:x", action="registry.edit", subject=f"meter:{i}",
                         before={"q3_m3h": i}, after={"q3_m3h": i + 1})
    root_key = make_api_key(db_url, "admin", name="root-key")
    admin = {"Authorization": f"Bearer {root_key}"}
    with start_api_server(db_url, env={"ODCZYT_API__RATE_LIMIT_PER_S": "0"}) as base:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"action": "registry.*", "limit": "10", **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{base}/v1/audit", params=params, headers=admin).json()
            seen += [e["subject"] for e in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == [f"meter:{i}" for i in reversed(range(25))]
        jan = httpx.get(f"{base}/v1/audit", params={"actor": "user:jan"}, headers=admin).json()["items"]
        assert len(jan) == 12 and all(e["actor"] == "user:jan" for e in jan)
        assert httpx.get(f"{base}/v1/audit", params={"limit": "10001"}, headers=admin).status_code == 422
        # creating the admin key was itself audited
        keys = httpx.get(f"{base}/v1/audit", params={"subject": "api_key:root-key"}, headers=admin).json()["items"]
        assert [k["action"] for k in keys] == ["api_key.create"] and root_key.split("_")[-1] not in str(keys)


def test_expired_session_is_401(db_url: str) -> None:
    import warnings

    from prometheus_client import CollectorRegistry

    from api.app import create_app
    from core.settings import ApiSettings

    with warnings.catch_warnings():  # starlette asks for httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    with psycopg.connect(db_url, autocommit=True) as conn:
        add_user(conn, name="nightshift", role="operations", password=PASSWORD, actor="test")
    app = create_app(db_url, registry=CollectorRegistry(), api=ApiSettings(cookie_secure=False, session_ttl_s=60))
    with TestClient(app) as client:
        login = client.post("/v1/session", json={"name": "nightshift", "password": PASSWORD})
        assert login.status_code == 200 and "secure" not in login.headers["set-cookie"].lower()
        assert "max-age=60" in login.headers["set-cookie"].lower()
        assert client.get("/v1/alerts").status_code == 200  # the client's jar sends the cookie
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
        resp = client.get("/v1/alerts")
        assert resp.status_code == 401 and "expired" in resp.text


def test_throttle_sees_the_client_behind_a_trusted_proxy_only(db_url: str, start_api_server: Start) -> None:
    def login(base: str, client: str) -> int:
        return httpx.post(f"{base}/v1/session", json={"name": "x", "password": "wrong password"},
                          headers={"X-Forwarded-For": client}).status_code

    trusted = {"ODCZYT_API__FORWARDED_ALLOW_IPS": "127.0.0.1", "ODCZYT_API__RATE_LIMIT_PER_S": "0"}
    with start_api_server(db_url, env=trusted) as base:
        assert [login(base, "203.0.113.7") for _ in range(11)][-2:] == [401, 429]
        assert login(base, "198.51.100.9") == 401  # another client behind the same proxy is not locked out
    with start_api_server(db_url, env={"ODCZYT_API__RATE_LIMIT_PER_S": "0"}) as base:
        assert [login(base, f"203.0.113.{i}") for i in range(11)][-2:] == [401, 429]  # a forged header buys nothing
