"""Every error as an RFC 9457 problem (``application/problem+json``), and a request id on every response.

A problem has a stable ``type`` (``urn:odczyt:problem:<name>``, one per status: see :data:`TYPES`), ``title``,
``status``, ``detail``, ``instance`` (the request path) and ``request_id``; a 422 also lists the
``invalid_params`` (where, which, why). An unexpected exception is logged with its request id and answered
with a 500 problem that shows nothing of the internals. The OpenAPI document declares the problem schema for
422 and for every other error status (``default``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from http import HTTPStatus
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("odczyt.api")
MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:odczyt:problem:"
TYPES = {
    400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 413: "body-too-large", 415: "unsupported-media-type",
    422: "validation", 429: "rate-limited", 500: "internal", 503: "unavailable",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class InvalidParam(BaseModel):
    """One parameter that failed validation."""

    where: str  # query, path, header, body, cookie
    name: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = None


def problem_type(status: int) -> str:
    """The stable ``type`` URI of a status."""
    return TYPE_PREFIX + TYPES.get(status, "error" if status < 500 else "internal")


def problem_body(scope: Scope, status: int, detail: str | None, **extra: Any) -> dict[str, Any]:
    """The JSON body of a problem for the request in ``scope``."""
    body: dict[str, Any] = {
        "type": problem_type(status), "title": HTTPStatus(status).phrase, "status": status, "detail": detail,
        "instance": scope.get("path"), "request_id": scope.get("state", {}).get("request_id"),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(scope: Scope, status: int, detail: str | None, *, headers: Mapping[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    """A ``application/problem+json`` response (``extra`` adds extension members)."""
    return JSONResponse(problem_body(scope, status, detail, **extra), status_code=status, headers=headers,
                        media_type=MEDIA_TYPE)


def _invalid(errors: Any) -> list[dict[str, str]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "request"
        name = ".".join(loc[1:]) or where
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")[:300]
        out.append({"where": where, "name": name, "reason": reason})
    return out


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 304 or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else None
    extra: dict[str, Any] = {}
    if exc.status_code == 422 and isinstance(exc.detail, list):
        extra["invalid_params"] = _invalid(exc.detail)
    return problem_response(request.scope, exc.status_code, detail, headers=exc.headers, **extra)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    params = _invalid(exc.errors())
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params[:5])
    return problem_response(request.scope, 422, detail, invalid_params=params)


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable for %s (request %s): %s", request.url.path,
                request.scope.get("state", {}).get("request_id"), type(exc).__name__)
    return problem_response(request.scope, 503, "the database is unavailable; try again shortly",
                            headers={"Retry-After": "5"})


class RequestContext:
    """ASGI middleware: a request id (``X-Request-ID``, kept when the client sends a sane one) on every
    response, and a 500 problem for anything unexpected (logged with the id and traceback, never shown)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", scope.get("method"), scope.get("path"), rid)
            if started:
                raise
            await problem_response(scope, 500, f"internal error; quote request id {rid} when reporting it")(
                scope, receive, send_with_id)


def _declare_problems(schema: dict[str, Any]) -> None:
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    comps.update(problem.pop("$defs", {}))
    comps["Problem"] = problem
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            for code, resp in responses.items():
                if code[0] in "45":
                    resp["content"] = content
            responses.setdefault("default", {"description": "An error (RFC 9457 problem)", "content": content})
    for name in ("HTTPValidationError", "ValidationError"):
        comps.pop(name, None)


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Wrap ``app.openapi`` to declare the problem schema for 422 and every other error status."""
    base = app.openapi
    done: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "schema" not in done:
            schema = base()
            _declare_problems(schema)
            done["schema"] = schema
        return done["schema"]  # type: ignore[no-any-return]

    return openapi


def install(app: FastAPI) -> None:
    """Problem responses for every error of ``app``, request ids, and the problem schema in its OpenAPI.

    Call it last in the factory: its request-id middleware must wrap every other one, and its OpenAPI hook
    the other hooks (so the 401/403 the auth module declares get the problem schema too)."""
    handlers: list[tuple[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]] = [
        (StarletteHTTPException, _http_error), (RequestValidationError, _validation_error),
        (psycopg.OperationalError, _unavailable), (psycopg_pool.PoolTimeout, _unavailable),
    ]
    for exc_type, fn in handlers:
        app.add_exception_handler(exc_type, fn)
    app.add_middleware(RequestContext)
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]
