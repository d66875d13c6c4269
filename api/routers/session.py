"""Login sessions for people: ``POST /v1/session`` (log in), ``GET`` (who am I), ``DELETE`` (log out), ``/login``.

The session cookie is HttpOnly, SameSite=Strict, ``Secure`` unless ``ODCZYT_API__COOKIE_SECURE=false``, and
names a server-side row (only its SHA-256 is stored) that expires after ``api.session_ttl_s``. A write made
with the cookie must send the session's CSRF token (returned by login and by ``GET /v1/session``) in
``X-CSRF-Token``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import psycopg
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import ANY_ROLE, CSRF_HEADER, SESSION_COOKIE, CurrentPrincipal, public, require
from api.auth_credentials import new_csrf_token, new_session_token, sha256, verify_password
from api.auth_throttle import LoginThrottle
from api.deps import Conn
from core.settings import ApiSettings
from storage import auth as store

router = APIRouter(tags=["session"])
log = logging.getLogger(__name__)
_MAX_LOGIN_BODY = 4096


class LoginIn(BaseModel):
    """A local user's name and password (JSON or an HTML form)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")
    password: str = Field(min_length=1, max_length=1024, pattern=r"^[^\x00]*$")


class SessionOut(BaseModel):
    """Who the caller is; ``csrf_token`` (cookie sessions only) goes in ``X-CSRF-Token`` on writes."""

    actor: str
    role: str
    kind: str
    service_point_scope: list[str] | None
    csrf_token: str | None = None
    expires_at: datetime | None = None


_LOGIN_BODY = {"required": True, "content": {
    "application/json": {"schema": LoginIn.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": LoginIn.model_json_schema()}}}


def _parse_login(content_type: str, body: bytes) -> LoginIn:
    if len(body) > _MAX_LOGIN_BODY:
        raise HTTPException(413, "login body too large")
    try:
        if content_type.startswith("application/json"):
            data: Any = json.loads(body)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            data = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), max_num_fields=10).items()}
        else:
            raise HTTPException(415, "send name and password as JSON or as an HTML form")
        return LoginIn.model_validate(data)
    except (ValueError, ValidationError) as exc:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
        raise HTTPException(422, "name and password are required") from exc


def _login(conn: psycopg.Connection, creds: LoginIn, ttl_s: int, client: str,
           throttle: LoginThrottle) -> tuple[str, SessionOut]:
    wait = throttle.retry_after(client)
    if wait:
        raise HTTPException(429, "too many failed logins from this address; try again later",
                            headers={"Retry-After": str(wait)})
    user = store.get_user(conn, name=creds.name)
    ok = verify_password(user["password_hash"] if user else None, creds.password)
    if not ok or user is None or user["disabled_at"] is not None:
        throttle.failed(client)
        log.info("login refused for user name %r from %s", creds.name[:64], client)
        raise HTTPException(401, "wrong user name or password", headers={"WWW-Authenticate": 'Bearer realm="odczyt"'})
    token, csrf = new_session_token(), new_csrf_token()
    expires = datetime.now(UTC) + timedelta(seconds=ttl_s)
    with conn.transaction():
        store.create_session(conn, token_sha256=sha256(token), user_id=user["id"], csrf_token=csrf,
                             expires_at=expires)
    scope = user["service_point_scope"]
    return token, SessionOut(actor=f"user:{user['name']}", role=user["role"], kind="user",
                             service_point_scope=None if scope is None else list(scope), csrf_token=csrf,
                             expires_at=expires)


@router.post("/v1/session", response_model=SessionOut, dependencies=[public()], openapi_extra={
    "requestBody": _LOGIN_BODY}, responses={401: {"description": "wrong user name or password"},
                                            429: {"description": "too many failed logins from this address"}})
async def login(request: Request, conn: Conn) -> Response:
    """Log a local user in: sets the session cookie and returns the CSRF token for writes."""
    creds = _parse_login(request.headers.get("content-type", ""), await request.body())
    settings: ApiSettings = request.app.state.auth.settings
    client = request.client.host if request.client else "unknown"
    state = request.app.state
    if not hasattr(state, "login_throttle"):  # one per app: 10 wrong passwords per address per 5 minutes
        state.login_throttle = LoginThrottle()
    token, out = await run_in_threadpool(_login, conn, creds, settings.session_ttl_s, client, state.login_throttle)
    response = Response(out.model_dump_json(), media_type="application/json")
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_ttl_s, path="/", httponly=True,
                        samesite="strict", secure=settings.cookie_secure)
    return response


@router.get("/v1/session", response_model=SessionOut, dependencies=[require(*ANY_ROLE)])
def whoami(request: Request, principal: CurrentPrincipal) -> SessionOut:
    """The authenticated caller (any credential), with the CSRF token of a cookie session."""
    scope = principal.service_point_scope
    return SessionOut(actor=principal.actor, role=principal.role.value, kind=principal.kind,
                      service_point_scope=None if scope is None else list(scope),
                      csrf_token=getattr(request.state, "csrf_token", None))


@router.delete("/v1/session", status_code=204, dependencies=[require(*ANY_ROLE)])
def logout(request: Request, conn: Conn) -> Response:
    """End the cookie session (a bearer caller has none: 204 all the same). Needs ``X-CSRF-Token``."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.headers.get("authorization") is None:
        store.delete_session(conn, token_sha256=sha256(token))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def login_page() -> HTMLResponse:
    """The static login form (no data; it posts to ``/v1/session``)."""
    html = resources.files("api").joinpath("static/login.html").read_text(encoding="utf-8")
    return HTMLResponse(html.replace("{{CSRF_HEADER}}", CSRF_HEADER))
