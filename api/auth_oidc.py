"""OIDC bearer tokens: signature against the identity provider's JWKS, issuer, audience, expiry, role mapping.

The JWKS (an ``https://`` URL or a ``file://`` path) is cached for ``jwks_cache_s`` and fetched again when a
token names a key id the cache does not hold (the IdP rotated its keys) — at most once per ``_MIN_REFETCH_S``,
so a flood of tokens with made-up key ids cannot turn the API into a load generator against the IdP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import jwt

from core.settings import OidcSettings

_MIN_REFETCH_S = 10.0


class OidcError(Exception):
    """A bearer JWT was refused (the message is for the log, never for the client)."""


class JwksCache:
    """The IdP's signing keys by key id, refreshed on expiry or on an unknown key id."""

    def __init__(self, url: str, *, ttl_s: float) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _fetch(self) -> dict[str, Any]:
        parts = urlsplit(self._url)
        if parts.scheme == "file" or not parts.scheme:
            data: dict[str, Any] = json.loads(Path(unquote(parts.path)).read_text(encoding="utf-8"))
            return data
        resp = httpx.get(self._url, timeout=5.0)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def _refresh(self) -> None:
        try:
            jwks = self._fetch()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            raise OidcError(f"JWKS {self._url} unavailable: {exc}") from exc
        keys = {}
        for entry in jwks.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK.from_dict(entry)
            except jwt.PyJWTError:
                continue  # a key type this build cannot use: skip it, keep the others
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key(self, kid: str) -> jwt.PyJWK:
        """The signing key ``kid`` (refetching the JWKS when it is stale or does not know ``kid``)."""
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > self._ttl_s or (kid not in self._keys and age > _MIN_REFETCH_S):
                self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise OidcError(f"no key {kid!r} in the JWKS")
        return found


def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The string values at a dotted claim path (a string or a list of strings), [] when absent."""
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [v for v in node if isinstance(v, str)]
    return []


def mapped_roles(values: Iterable[str], role_map: dict[str, str], known: Iterable[str]) -> list[str]:
    """Our role names for the IdP's values: through ``role_map``, else a value that is one of ``known``."""
    names = set(known)
    out = []
    for value in values:
        role = role_map.get(value, value if value in names else None)
        if role in names and role not in out:
            out.append(role)
    return out


class OidcVerifier:
    """Verifies bearer JWTs for one issuer and audience."""

    def __init__(self, settings: OidcSettings) -> None:
        if not (settings.issuer and settings.audience and settings.jwks_url):
            raise ValueError("OIDC needs issuer, audience and jwks_url")
        self.settings = settings
        self.jwks = JwksCache(settings.jwks_url, ttl_s=settings.jwks_cache_s)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims after checking signature, algorithm, ``iss``, ``aud``, ``exp`` (and ``nbf``)."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in s.algorithms:
                raise OidcError(f"algorithm {alg!r} not allowed")
            key = self.jwks.key(str(header.get("kid", "")))
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=[alg], audience=s.audience, issuer=s.issuer, leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise OidcError(f"token refused: {exc}") from exc
        return claims
