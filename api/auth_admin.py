"""Managing credentials (API keys and local users), each change audited in its own transaction.

Used by ``odczyt api-keys`` / ``odczyt users``, the demo (an admin key for its run) and the test fixtures.
Audit rows never carry a secret or hash: only names, roles, scopes and times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from api.auth import Role
from api.auth_credentials import hash_password, new_api_key
from storage import audit
from storage import auth as store

_PUBLIC_KEY_FIELDS = ("key_id", "name", "role", "service_point_scope", "expires_at", "revoked_at")
_PUBLIC_USER_FIELDS = ("name", "role", "service_point_scope", "disabled_at")


class CredentialError(ValueError):
    """A credential change was refused (unknown name, duplicate name, weak password…)."""


def _public(row: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {k: row[k] for k in fields}


def issue_api_key(conn: psycopg.Connection, *, name: str, role: Role | str, actor: str,
                  service_point_scope: Sequence[str] | None = None,
                  expires_at: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Create a key; returns (the key string — shown once, never stored —, its stored row without digest)."""
    role = Role(role)
    if not name.strip():
        raise CredentialError("an API key needs a name")
    key, key_id, digest = new_api_key()
    try:
        with conn.transaction():
            row = store.create_api_key(conn, key_id=key_id, name=name, role=role.value, secret_sha256=digest,
                                       created_by=actor, service_point_scope=service_point_scope,
                                       expires_at=expires_at)
            audit.record(conn, actor=actor, action="api_key.create", subject=f"api_key:{name}",
                         after=_public(row, _PUBLIC_KEY_FIELDS))
    except psycopg.errors.UniqueViolation as exc:
        raise CredentialError(f"an active API key named {name!r} exists (revoke it first)") from exc
    return key, row


def revoke_api_key(conn: psycopg.Connection, *, ident: str, actor: str) -> dict[str, Any]:
    """Revoke the active key with this key id or name."""
    with conn.transaction():
        row = store.revoke_api_key(conn, ident=ident)
        if row is None:
            raise CredentialError(f"no active API key with id or name {ident!r}")
        audit.record(conn, actor=actor, action="api_key.revoke", subject=f"api_key:{row['name']}",
                     before={"revoked_at": None}, after=_public(row, _PUBLIC_KEY_FIELDS))
    return row


def add_user(conn: psycopg.Connection, *, name: str, role: Role | str, password: str, actor: str,
             service_point_scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Create a local user with an argon2id password hash."""
    role = Role(role)
    try:
        digest = hash_password(password)
        with conn.transaction():
            row = store.add_user(conn, name=name, role=role.value, password_hash=digest,
                                 service_point_scope=service_point_scope)
            audit.record(conn, actor=actor, action="user.add", subject=f"user:{name}",
                         after=_public(row, _PUBLIC_USER_FIELDS))
    except ValueError as exc:
        raise CredentialError(str(exc)) from exc
    except psycopg.errors.UniqueViolation as exc:
        raise CredentialError(f"user {name!r} exists") from exc
    except psycopg.errors.CheckViolation as exc:
        raise CredentialError(f"user name {name!r}: use 1–64 of A–Z a–z 0–9 . _ @ -") from exc
    return row


def set_password(conn: psycopg.Connection, *, name: str, password: str, actor: str) -> dict[str, Any]:
    """Change a user's password (their sessions end)."""
    try:
        digest = hash_password(password)
    except ValueError as exc:
        raise CredentialError(str(exc)) from exc
    with conn.transaction():
        row = store.set_password(conn, name=name, password_hash=digest)
        if row is None:
            raise CredentialError(f"no user {name!r}")
        audit.record(conn, actor=actor, action="user.passwd", subject=f"user:{name}",
                     after={"password_changed_at": row["password_changed_at"]})
    return row


def set_disabled(conn: psycopg.Connection, *, name: str, disabled: bool, actor: str) -> dict[str, Any]:
    """Disable (ending their sessions) or re-enable a user."""
    with conn.transaction():
        before = store.get_user(conn, name=name)
        row = store.set_disabled(conn, name=name, disabled=disabled)
        if before is None or row is None:
            raise CredentialError(f"no user {name!r}")
        audit.record(conn, actor=actor, action="user.disable" if disabled else "user.enable",
                     subject=f"user:{name}", before={"disabled_at": before["disabled_at"]},
                     after={"disabled_at": row["disabled_at"]})
    return row
