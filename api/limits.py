"""Request limits as ASGI middleware: body size (413), NUL bytes in the URL (422), per-credential rate (429),
requests in flight per worker (queued, 503 after a wait).

* **Body size**: a body longer than ``ApiSettings.max_body_bytes`` (64 KiB by default) is refused with 413
  before the app reads it (declared ``Content-Length`` or counted while buffering a chunked body).
* **NUL bytes** anywhere in the path or query string are a 422 problem: PostgreSQL text cannot hold them.
* **Rate**: a token bucket per credential (a digest of the ``Authorization`` header, else of the session
  cookie, else the client address), ``rate_limit_per_s`` tokens a second up to ``rate_limit_burst``; an empty
  bucket answers 429 with ``Retry-After``. Buckets live in the worker process: with ``--workers N`` a client
  gets up to N times the rate. ``rate_limit_per_s = 0`` turns the limit off.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from core.settings import ApiSettings

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = b"odczyt_session"


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with a 413 problem; smaller bodies are buffered and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)  # any method: a GET with a 20 MB body too
            return
        if scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: let the app see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body larger than {self.max_bytes} bytes"
        await problem_response(scope, 413, detail, headers={"Connection": "close"})(scope, receive, send)


class NulGuard:
    """422 for a NUL byte (raw or ``%00``) in the path or the query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bad = self.offending(scope)
            if bad:
                names = ", ".join(p["name"] for p in bad)
                await problem_response(scope, 422, f"NUL bytes are not allowed ({names})",
                                       invalid_params=bad)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def offending(scope: Scope) -> list[dict[str, str]]:
        """The parameters (path, query names) that hold a NUL byte, raw or percent-encoded."""
        bad = []
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").lower():
            bad.append({"where": "path", "name": "path", "reason": "contains a NUL byte"})
        query = scope.get("query_string", b"").decode("latin-1")
        if "\x00" in query or "%00" in query:
            for name, value in parse_qsl(query, keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    bad.append({"where": "query", "name": name.replace("\x00", "\\0")[:64],
                                "reason": "contains a NUL byte"})
            if len(bad) == 0:
                bad.append({"where": "query", "name": "query", "reason": "contains a NUL byte"})
        return bad


class InFlightLimit:
    """At most ``max_in_flight`` requests of this worker run at once; the rest wait here, in the event loop.

    Routes are synchronous and take a pooled connection in a worker thread: with more requests in flight than
    the pool has connections, threads block on the pool, and the dependency exits that would give connections
    back need threads too — 64 concurrent requests hung a 2-worker server for the pool timeout. Waiting here
    holds no thread; a request that waits longer than ``wait_s`` gets a 503 problem with ``Retry-After``.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int, wait_s: float = 30.0) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.wait_s = wait_s
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_in_flight)
        try:
            await asyncio.wait_for(gate.acquire(), self.wait_s)
        except TimeoutError:
            await problem_response(scope, 503, "the server is busy; retry shortly",
                                   headers={"Retry-After": "5"})(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """Token bucket per credential (see the module docstring); 429 problem with ``Retry-After``."""

    def __init__(self, app: ASGIApp, rate_per_s: float, burst: int, max_clients: int = 100_000) -> None:
        self.app = app
        self.rate = rate_per_s
        self.burst = float(max(1, burst))
        self.max_clients = max_clients
        self.buckets: OrderedDict[bytes, _Bucket] = OrderedDict()

    @staticmethod
    def client_key(scope: Scope) -> bytes:
        """Who is asking: the credential's digest (never the credential itself), else the client address."""
        headers = dict(scope.get("headers", ()))
        cred = headers.get(b"authorization")
        if not cred:
            for part in headers.get(b"cookie", b"").split(b";"):
                name, _, value = part.strip().partition(b"=")
                if name == SESSION_COOKIE and value:
                    cred = b"cookie:" + value
        if cred:
            return b"c:" + hashlib.blake2b(cred, digest_size=16).digest()
        client = scope.get("client") or ("?", 0)
        return b"ip:" + str(client[0]).encode()

    def take(self, key: bytes, now: float) -> float:
        """Take one token for ``key``: 0 when granted, else the seconds until one is available."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(self.burst, now)
            if len(self.buckets) > self.max_clients:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        wait = self.take(self.client_key(scope), time.monotonic())
        if wait > 0:
            retry = str(max(1, math.ceil(wait)))
            await problem_response(scope, 429, f"too many requests; retry in {retry} s",
                                   headers={"Retry-After": retry})(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: ApiSettings, *, max_in_flight: int | None = None) -> None:
    """Add the limits (and CORS when origins are configured) to ``app``; call before :func:`problems.install`.

    Starlette runs the middleware added last first: the request-id middleware of :mod:`api.problems` (added
    after these) wraps them all; inside it CORS answers pre-flights, then the rate limit, the NUL guard and the
    body limit run, and innermost the in-flight limit (rejected requests never wait for a slot).
    """
    if max_in_flight is not None:  # the app's connection-pool size
        app.add_middleware(InFlightLimit, max_in_flight=max_in_flight)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NulGuard)
    if settings.rate_limit_per_s > 0:
        app.add_middleware(RateLimit, rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
                           expose_headers=["ETag", "Link", "Retry-After", "X-Request-ID"], max_age=600)
