"""The pieces of api.auth without a server: route declarations, principals, key strings, password hashes."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from api.auth import Principal, Role, check_routes, decorate_openapi, public, require
from api.auth_credentials import hash_password, new_api_key, secret_matches, split_api_key, verify_password


def _app(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def test_an_undeclared_route_refuses_to_build() -> None:
    router = APIRouter(prefix="/v1")

    @router.get("/declared", dependencies=[require(Role.billing)])
    def declared() -> dict[str, str]:
        return {}

    @router.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/v1/forgotten"):
        check_routes(_app(router))


def test_router_level_declaration_reaches_the_openapi_document() -> None:
    router = APIRouter(prefix="/v1", dependencies=[require(Role.operations, Role.portal)])

    @router.get("/things")
    def things() -> list[int]:
        return []

    open_router = APIRouter()

    @open_router.get("/ping", dependencies=[public()])
    def ping() -> str:
        return "pong"

    app = _app(router)
    app.include_router(open_router)
    check_routes(app)
    decorate_openapi(app)
    doc = app.openapi()
    op = doc["paths"]["/v1/things"]["get"]
    assert op["x-roles"] == ["admin", "operations", "portal"]
    assert {next(iter(s)) for s in op["security"]} == {"apiKey", "oidc", "session"}
    assert set(op["responses"]) >= {"401", "403"}
    assert doc["paths"]["/ping"]["get"]["security"] == [] and doc["paths"]["/ping"]["get"]["x-roles"] == []
    with pytest.raises(ValueError):
        require()


def test_principal_roles_and_scope() -> None:
    admin = Principal("key:root", Role.admin, "api_key")
    portal = Principal("key:ebok", Role.portal, "api_key", ("SP-1",))
    both = Principal("oidc:x", Role.operations, "oidc", None, frozenset({Role.billing}))
    assert admin.has_any([Role.billing]) and not portal.has_any([Role.billing, Role.operations])
    assert both.has_any([Role.billing]) and both.has_any([Role.operations]) and not both.has_any([Role.crew])
    assert portal.may_see_service_point("SP-1") and not portal.may_see_service_point("SP-2")
    assert admin.may_see_service_point("anything")


def test_key_strings_and_passwords() -> None:
    key, key_id, digest = new_api_key()
    parts = split_api_key(key)
    assert parts is not None and parts[0] == key_id and secret_matches(parts[1], digest)
    assert not secret_matches(parts[1] + "x", digest)
    for bad in ("odk_", "odk_short_x", "odk_ABCDEFGHIJ_x", f"odk_{key_id}", "Bearer x", ""):
        assert split_api_key(bad) is None, bad
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse") and not verify_password(None, "correct horse")
    assert not verify_password("not a hash", "x")
    with pytest.raises(ValueError):
        hash_password("short")


def test_login_throttle_window() -> None:
    from api.auth_throttle import LoginThrottle

    throttle = LoginThrottle(max_failures=3, window_s=60, max_clients=2)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("10.0.0.1", now=t) == 0
        throttle.failed("10.0.0.1", now=t)
    assert throttle.retry_after("10.0.0.1", now=3.0) == 57  # until the first failure leaves the window
    assert throttle.retry_after("10.0.0.2", now=3.0) == 0
    assert throttle.retry_after("10.0.0.1", now=60.5) == 0
    throttle.failed("10.0.0.2", now=61)
    throttle.failed("10.0.0.3", now=62)  # a third address: the least recently failing one is forgotten
    assert throttle.retry_after("10.0.0.1", now=62) == 0
