"""Credentials storage: API keys, local users, login sessions, and the service-point scope checks of the API.

Only digests are stored (SHA-256 of an API key's secret and of a session token, the argon2id hash of a
password); hashing and comparing happen in ``api.auth_credentials``. Functions take keyword arguments and return
plain dicts; the caller owns the transaction (and audits the change in it with :mod:`storage.audit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from storage.sql import dict_rows as _rows

_KEY_COLUMNS = ("id, key_id, name, role, service_point_scope, created_at, created_by, expires_at, revoked_at, "
                "last_used_at")
_USER_COLUMNS = "id, name, role, service_point_scope, created_at, password_changed_at, disabled_at"
TOUCH_EVERY = "1 minute"  # last_used_at is written at most this often per key


def _one(conn: psycopg.Connection, sql: str, params: Any = None) -> dict[str, Any] | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def create_api_key(conn: psycopg.Connection, *, key_id: str, name: str, role: str, secret_sha256: bytes,
                   created_by: str, service_point_scope: Sequence[str] | None = None,
                   expires_at: datetime | None = None) -> dict[str, Any]:
    """Store a new key (its secret's digest only); a second active key of the same name is refused."""
    row = _one(conn, f"INSERT INTO api_keys (key_id, name, role, service_point_scope, secret_sha256, created_by, "
                     f"expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}",
               (key_id, name, role, None if service_point_scope is None else list(service_point_scope),
                secret_sha256, created_by, expires_at))
    assert row is not None
    return row


def find_api_key(conn: psycopg.Connection, *, key_id: str) -> dict[str, Any] | None:
    """A key by its public id, with ``secret_sha256`` (revoked and expired keys too: the caller decides)."""
    return _one(conn, f"SELECT {_KEY_COLUMNS}, secret_sha256 FROM api_keys WHERE key_id = %s", (key_id,))


def touch_api_key(conn: psycopg.Connection, *, id: int) -> None:
    """Record a use of the key, writing at most once per ``TOUCH_EVERY`` (reads stay cheap under load)."""
    conn.execute(f"UPDATE api_keys SET last_used_at = now() WHERE id = %s "
                 f"AND (last_used_at IS NULL OR last_used_at < now() - interval '{TOUCH_EVERY}')", (id,))


def list_api_keys(conn: psycopg.Connection, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    """Keys without their digests, oldest first."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    return _rows(conn, f"SELECT {_KEY_COLUMNS} FROM api_keys{where} ORDER BY id")


def revoke_api_key(conn: psycopg.Connection, *, ident: str) -> dict[str, Any] | None:
    """Revoke the active key whose public id or name is ``ident``; returns it (after), None if none matched."""
    return _one(conn, f"UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL "
                      f"AND (key_id = %s OR name = %s) RETURNING {_KEY_COLUMNS}", (ident, ident))


def add_user(conn: psycopg.Connection, *, name: str, role: str, password_hash: str,
             service_point_scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Create a local user (the name is unique)."""
    row = _one(conn, f"INSERT INTO users (name, role, service_point_scope, password_hash) VALUES (%s, %s, %s, %s) "
                     f"RETURNING {_USER_COLUMNS}",
               (name, role, None if service_point_scope is None else list(service_point_scope), password_hash))
    assert row is not None
    return row


def get_user(conn: psycopg.Connection, *, name: str) -> dict[str, Any] | None:
    """A user by name with ``password_hash`` (disabled users too)."""
    return _one(conn, f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE name = %s", (name,))


def list_users(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Users without their hashes, by name."""
    return _rows(conn, f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")


def set_password(conn: psycopg.Connection, *, name: str, password_hash: str) -> dict[str, Any] | None:
    """Replace a user's password hash and end their sessions; None for an unknown user."""
    row = _one(conn, f"UPDATE users SET password_hash = %s, password_changed_at = now() WHERE name = %s "
                     f"RETURNING {_USER_COLUMNS}", (password_hash, name))
    if row is not None:
        conn.execute("DELETE FROM sessions WHERE user_id = %s", (row["id"],))
    return row


def set_disabled(conn: psycopg.Connection, *, name: str, disabled: bool) -> dict[str, Any] | None:
    """Disable (ending their sessions) or re-enable a user; None for an unknown user."""
    row = _one(conn, f"UPDATE users SET disabled_at = CASE WHEN %s THEN coalesce(disabled_at, now()) END "
                     f"WHERE name = %s RETURNING {_USER_COLUMNS}", (disabled, name))
    if row is not None and disabled:
        conn.execute("DELETE FROM sessions WHERE user_id = %s", (row["id"],))
    return row


def create_session(conn: psycopg.Connection, *, token_sha256: bytes, user_id: int, csrf_token: str,
                   expires_at: datetime) -> None:
    """Store a login session (and drop expired ones: logins are rare enough to pay for the sweep)."""
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    conn.execute("INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at) VALUES (%s, %s, %s, %s)",
                 (token_sha256, user_id, csrf_token, expires_at))


def find_session(conn: psycopg.Connection, *, token_sha256: bytes) -> dict[str, Any] | None:
    """A live session (not expired, user not disabled) with its user's name, role and scope."""
    return _one(conn, "SELECT s.user_id, s.csrf_token, s.expires_at, u.name, u.role, u.service_point_scope "
                      "FROM sessions s JOIN users u ON u.id = s.user_id "
                      "WHERE s.token_sha256 = %s AND s.expires_at > now() AND u.disabled_at IS NULL",
                (token_sha256,))


def delete_session(conn: psycopg.Connection, *, token_sha256: bytes) -> bool:
    """End one session; False when it did not exist."""
    return conn.execute("DELETE FROM sessions WHERE token_sha256 = %s", (token_sha256,)).rowcount > 0


def meter_in_scope(conn: psycopg.Connection, *, meter_key: int, service_points: Sequence[str],
                   start: datetime, end: datetime) -> bool:
    """Whether the meter was installed at one of ``service_points`` during the whole of ``[start, end)``."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM installations WHERE meter_key = %s AND service_point_id = ANY(%s) "
        "AND installed_at <= %s AND (removed_at IS NULL OR removed_at >= %s))",
        (meter_key, list(service_points), start, end)).fetchone()
    return bool(row and row[0])
