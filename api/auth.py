"""Who is calling and what they may do: credentials → :class:`Principal`, ``require(*roles)`` on every route.

Three credentials, checked in this order:

* ``Authorization: Bearer odk_…`` — an API key (machine clients: billing export, Prometheus, the e-BOK portal);
* ``Authorization: Bearer <JWT>`` — an OIDC access token of the utility's identity provider (when configured);
* the ``odczyt_session`` cookie of ``POST /v1/session`` (people at the dashboard); a write made with the cookie
  must echo the session's CSRF token in ``X-CSRF-Token`` (bearer calls need none: browsers never add them).

Every route declares its roles once, ``dependencies=[require(Role.billing)]`` (``admin`` may do everything) or
``dependencies=[public()]``; :func:`check_routes` refuses to build an app with an undeclared route, and
:func:`decorate_openapi` writes the declaration into the OpenAPI document (``security`` and ``x-roles``).
"""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.auth_credentials import KEY_PREFIX, secret_matches, sha256, split_api_key
from api.auth_oidc import OidcError, OidcVerifier, claim_values, mapped_roles
from api.deps import Conn
from core.settings import ApiSettings
from storage import auth as store

log = logging.getLogger(__name__)
SESSION_COOKIE = "odczyt_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ROLES_ATTR = "__odczyt_roles__"
_PUBLIC_ATTR = "__odczyt_public__"
_TOUCH_EVERY = timedelta(minutes=1)


class Role(enum.StrEnum):
    """What a principal may do; ``admin`` may do everything."""

    admin = "admin"
    operations = "operations"  # dashboard, alerts, gateways, registry read, /metrics
    billing = "billing"  # billing reads and exports, billing runs
    crew = "crew"  # reading orders, uploads
    portal = "portal"  # the e-BOK backend: per-service-point reads, nothing fleet-wide


ANY_ROLE: tuple[Role, ...] = tuple(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``actor`` names it in audit rows and alert histories."""

    actor: str  # 'key:<name>', 'user:<name>', 'oidc:<sub>'
    role: Role
    kind: Literal["api_key", "user", "oidc"]
    service_point_scope: tuple[str, ...] | None = None  # None: not restricted to service points
    also: frozenset[Role] = frozenset()  # further roles of an OIDC token that maps to several

    def has_any(self, roles: Iterable[Role]) -> bool:
        """Whether one of ``roles`` is granted (admin always is)."""
        mine = {self.role, *self.also}
        return Role.admin in mine or bool(mine.intersection(roles))

    def may_see_service_point(self, service_point_id: str) -> bool:
        """Whether the scope (if any) includes the service point."""
        return self.service_point_scope is None or service_point_id in self.service_point_scope


@dataclass
class AuthConfig:
    """What authentication needs at request time (kept on ``app.state.auth``)."""

    settings: ApiSettings
    oidc: OidcVerifier | None

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> AuthConfig:
        """OIDC is on when issuer, audience and JWKS URL are all set."""
        o = settings.oidc
        return cls(settings, OidcVerifier(o) if o.issuer and o.audience and o.jwks_url else None)


def unauthorized(detail: str = "authentication required", error: str | None = None) -> HTTPException:
    """A 401 with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""
    challenge = 'Bearer realm="odczyt"' + (f', error="{error}"' if error else "")
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def _scope(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _from_api_key(conn: Conn, key: str) -> Principal:
    parts = split_api_key(key)
    row = store.find_api_key(conn, key_id=parts[0]) if parts else None
    if parts is None or row is None or not secret_matches(parts[1], row["secret_sha256"]):
        raise unauthorized("invalid API key", "invalid_token")
    if row["revoked_at"] is not None:
        raise unauthorized("API key revoked", "invalid_token")
    expires = row["expires_at"]
    if expires is not None and expires <= datetime.now(UTC):
        raise unauthorized("API key expired", "invalid_token")
    last = row["last_used_at"]
    if last is None or datetime.now(UTC) - last >= _TOUCH_EVERY:  # a write per minute and key, not per request
        store.touch_api_key(conn, id=row["id"])
    return Principal(f"key:{row['name']}", Role(row["role"]), "api_key", _scope(row["service_point_scope"]))


def _from_jwt(config: AuthConfig, token: str) -> Principal:
    if config.oidc is None:
        raise unauthorized("unknown bearer token", "invalid_token")
    try:
        claims = config.oidc.verify(token)
    except OidcError as exc:
        log.info("OIDC bearer refused: %s", exc)
        raise unauthorized("invalid or expired token", "invalid_token") from exc
    o = config.settings.oidc
    names = mapped_roles(claim_values(claims, o.role_claim), o.role_map, (r.value for r in Role))
    if not names:
        raise HTTPException(403, "the token grants no odczyt role")
    roles = sorted((Role(n) for n in names), key=ANY_ROLE.index)
    return Principal(f"oidc:{claims['sub']}", roles[0], "oidc", None, frozenset(roles[1:]))


def _from_session(request: Request, conn: Conn, token: str) -> Principal:
    row = store.find_session(conn, token_sha256=sha256(token))
    if row is None:
        raise unauthorized("session expired or unknown", "invalid_token")
    request.state.csrf_token = row["csrf_token"]
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), row["csrf_token"].encode()):
            raise HTTPException(403, f"a write with the session cookie needs the {CSRF_HEADER} header")
    return Principal(f"user:{row['name']}", Role(row["role"]), "user", _scope(row["service_point_scope"]))


def authenticate(request: Request, conn: Conn) -> Principal:
    """The request's principal (computed once per request), or 401."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized("use Authorization: Bearer <key or token>", "invalid_request")
        config: AuthConfig = request.app.state.auth
        principal = (_from_api_key(conn, credential) if credential.startswith(KEY_PREFIX)
                     else _from_jwt(config, credential))
    elif SESSION_COOKIE in request.cookies:
        principal = _from_session(request, conn, request.cookies[SESSION_COOKIE])
    else:
        raise unauthorized()
    request.state.principal = principal
    return principal


def require(*roles: Role) -> Any:
    """A route dependency: the caller must hold one of ``roles`` (or admin); 401 unauthenticated, 403 else."""
    if not roles:
        raise ValueError("require() needs at least one role; use public() for an open route")

    def dependency(request: Request, conn: Conn) -> Principal:
        principal = authenticate(request, conn)
        if not principal.has_any(roles):
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(403, f"{principal.actor} ({principal.role.value}) may not do this; "
                                     f"allowed: {allowed} or admin")
        return principal

    setattr(dependency, _ROLES_ATTR, tuple(dict.fromkeys((Role.admin, *roles))))
    return Depends(dependency)


def public() -> Any:
    """The route dependency of an unauthenticated route (health probes, the login endpoint)."""

    def dependency() -> None:
        return None

    setattr(dependency, _PUBLIC_ATTR, True)
    return Depends(dependency)


def current_principal(request: Request, conn: Conn) -> Principal:
    """The caller of a route guarded by ``require`` (authenticates again only if no guard ran)."""
    return authenticate(request, conn)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def ensure_service_point(principal: Principal, service_point_id: str) -> None:
    """403 when a scoped principal asks for a service point outside its scope."""
    if not principal.may_see_service_point(service_point_id):
        raise HTTPException(403, f"{principal.actor} may not read service point {service_point_id}")


def _walk(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _walk(sub)


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of the app with its effective (router-level included) dependencies."""
    return [ctx for ctx in iter_route_contexts(app.routes) if isinstance(ctx.original_route, APIRoute)]


def declared_access(route: Any) -> tuple[Role, ...] | None:
    """The roles a route declares (admin first), ``()`` for a public route; None when it declares nothing."""
    for call in _walk(route.dependant):
        if getattr(call, _PUBLIC_ATTR, False):
            return ()
        roles = getattr(call, _ROLES_ATTR, None)
        if roles is not None:
            return tuple(roles)
    return None


def check_routes(app: FastAPI) -> None:
    """Refuse an app where a route neither requires roles nor is declared public."""
    missing = [f"{sorted(r.methods)} {r.path}" for r in api_routes(app) if declared_access(r) is None]
    if missing:
        raise RuntimeError("routes without require(...) or public(): " + "; ".join(missing))


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "odk_<id>_<secret>",
               "description": "API key from `odczyt api-keys create` (machine clients)."},
    "oidc": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "Access token of the utility's OIDC identity provider (when configured)."},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": f"Cookie of `POST /v1/session`; writes also need the `{CSRF_HEADER}` header."},
}


def decorate_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the security schemes and each operation's ``security`` and ``x-roles``."""
    base = app.openapi
    def openapi() -> dict[str, Any]:
        schema = base()
        access = {(r.path_format, m.lower()): declared_access(r) for r in api_routes(app) for m in r.methods}
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                roles = access.get((path, method))
                if roles is None:
                    continue
                op["security"] = [{name: []} for name in SECURITY_SCHEMES] if roles else []
                op["x-roles"] = [r.value for r in roles]
                if roles:
                    responses = op.setdefault("responses", {})
                    responses.setdefault("401", {"description": "No, invalid, expired or revoked credentials"})
                    responses.setdefault("403", {"description": "The credential lacks the role (or scope)"})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
