"""OIDC bearer JWTs: the tests' own RSA key pairs and JWKS (a file for the server, a local HTTP server)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from api import auth_oidc
from api.auth_oidc import JwksCache, OidcError, OidcVerifier, claim_values, mapped_roles
from core.settings import OidcSettings

ISSUER = "https://idp.example/realms/water"
AUDIENCE = "odczyt-api"
Start = Callable[..., AbstractContextManager[str]]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def _token(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "f3a1-anna", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {"k1": _key(), "k2": _key(), "other": _key()}


def test_server_accepts_mapped_roles_and_refuses_bad_tokens(db_url: str, tmp_path: Path, start_api_server: Start,
                                                            keys: dict[str, rsa.RSAPrivateKey]) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [_jwk(keys["k1"], "k1")]}))
    env = {"ODCZYT_API__OIDC__ISSUER": ISSUER, "ODCZYT_API__OIDC__AUDIENCE": AUDIENCE,
           "ODCZYT_API__OIDC__JWKS_URL": jwks.as_uri(), "ODCZYT_API__OIDC__ROLE_CLAIM": "realm_access.roles",
           "ODCZYT_API__OIDC__ROLE_MAP": json.dumps({"water-dispatch": "operations", "water-billing": "billing"}),
           "ODCZYT_API__RATE_LIMIT_PER_S": "0"}
    k1 = keys["k1"]
    with start_api_server(db_url, env=env) as base:
        def get(path: str, token: str) -> httpx.Response:
            return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

        dispatcher = _token(k1, "k1", realm_access={"roles": ["offline_access", "water-dispatch"]})
        assert get("/v1/alerts", dispatcher).status_code == 200
        assert get("/v1/billing/readings?at=2026-11-01T00:00:00Z", dispatcher).status_code == 403
        me = get("/v1/session", dispatcher).json()
        assert me["actor"] == "oidc:f3a1-anna" and me["role"] == "operations" and me["kind"] == "oidc"
        both = _token(k1, "k1", realm_access={"roles": ["water-billing", "water-dispatch"]})
        assert get("/v1/billing/readings?at=2026-11-01T00:00:00Z", both).status_code == 200
        assert get("/v1/alerts", both).status_code == 200
        # a valid token that maps to no role of ours: authenticated, allowed nothing
        assert get("/v1/alerts", _token(k1, "k1", realm_access={"roles": ["hr"]})).status_code == 403
        refused = {
            "expired": _token(k1, "k1", exp=int(time.time()) - 3600, realm_access={"roles": ["water-dispatch"]}),
            "wrong signer, same kid": _token(keys["other"], "k1", realm_access={"roles": ["water-dispatch"]}),
            "unknown kid": _token(keys["other"], "zz", realm_access={"roles": ["water-dispatch"]}),
            "wrong audience": _token(k1, "k1", aud="someone-else", realm_access={"roles": ["water-dispatch"]}),
            "wrong issuer": _token(k1, "k1", iss="https://evil.example", realm_access={"roles": ["water-dispatch"]}),
            "alg none": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                                    "realm_access": {"roles": ["water-dispatch"]}}, None, algorithm="none"),
            "HS256 with the public key as secret": jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}, "k" * 32,
                algorithm="HS256", headers={"kid": "k1"}),
            "garbage": "abc.def.ghi",
        }
        for why, token in refused.items():
            resp = get("/v1/alerts", token)
            assert resp.status_code == 401, (why, resp.status_code, resp.text)
            assert 'error="invalid_token"' in resp.headers["www-authenticate"]


@pytest.fixture
def jwks_http() -> Iterator[tuple[str, dict[str, Any], list[int]]]:
    """A local HTTP server answering the JWKS held in the yielded dict; the list counts its fetches."""
    state: dict[str, Any] = {"keys": []}
    hits: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            body = json.dumps(state).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/certs", state, hits
    finally:
        server.shutdown()
        server.server_close()


def test_jwks_cached_and_refetched_on_key_rotation(jwks_http: tuple[str, dict[str, Any], list[int]],
                                                   keys: dict[str, rsa.RSAPrivateKey],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, state, hits = jwks_http
    state["keys"] = [_jwk(keys["k1"], "k1")]
    verifier = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, role_claim="roles"))
    for _ in range(3):
        assert verifier.verify(_token(keys["k1"], "k1", roles=["admin"]))["sub"] == "f3a1-anna"
    assert len(hits) == 1  # cached
    state["keys"] = [_jwk(keys["k1"], "k1"), _jwk(keys["k2"], "k2")]  # the IdP rotates in a new key
    with pytest.raises(OidcError):  # within the refetch guard an unknown kid does not hit the IdP again
        verifier.verify(_token(keys["k2"], "k2"))
    assert len(hits) == 1
    monkeypatch.setattr(auth_oidc, "_MIN_REFETCH_S", 0.0)
    assert verifier.verify(_token(keys["k2"], "k2"))["sub"] == "f3a1-anna"
    assert len(hits) == 2
    with pytest.raises(OidcError):
        verifier.verify(_token(keys["other"], "nope"))
    assert len(hits) == 3


def test_jwks_unreachable_is_a_refusal_not_a_crash() -> None:
    cache = JwksCache("http://127.0.0.1:9/certs", ttl_s=60)
    with pytest.raises(OidcError, match="unavailable"):
        cache.key("k1")


def test_role_claim_paths_and_mapping() -> None:
    claims = {"roles": "billing", "realm_access": {"roles": ["a", 3, "water-ops"]}, "x": {"y": 1}}
    assert claim_values(claims, "roles") == ["billing"]
    assert claim_values(claims, "realm_access.roles") == ["a", "water-ops"]
    assert claim_values(claims, "x.y") == [] and claim_values(claims, "missing.path") == []
    known = ["admin", "operations", "billing", "crew", "portal"]
    assert mapped_roles(["water-ops", "billing", "a"], {"water-ops": "operations", "a": "superuser"}, known) == [
        "operations", "billing"]
