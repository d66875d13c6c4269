"""Secrets of the API's credentials: API key strings, session tokens, argon2id password hashes.

An API key reads ``odk_<key id>_<secret>``: the key id (10 lowercase base32 characters) finds the row, the
secret (32 random bytes, base64url) is checked against its stored SHA-256 in constant time. A secret of 256
random bits needs no slow hash; a password does, hence argon2id for users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

KEY_PREFIX = "odk_"
_KEY_ID_CHARS = "abcdefghijklmnopqrstuvwxyz234567"
# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a login costs one core ~50–100 ms instead
# of the library default's 64 MiB × 3 passes × 4 lanes (0.7 s measured on this loaded 2-core machine), which
# would let a handful of wrong passwords a second keep both cores busy. Stored hashes name their parameters.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("odczyt: equalises the time of a login with an unknown user name")


def sha256(value: str) -> bytes:
    """The digest stored for an API key secret or a session token."""
    return hashlib.sha256(value.encode()).digest()


def new_api_key() -> tuple[str, str, bytes]:
    """A fresh key: (full key string to hand out once, public key id, digest of the secret to store)."""
    key_id = "".join(secrets.choice(_KEY_ID_CHARS) for _ in range(10))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"{KEY_PREFIX}{key_id}_{secret}", key_id, sha256(secret)


def split_api_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key string, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or len(key_id) != 10 or not secret or any(c not in _KEY_ID_CHARS for c in key_id):
        return None
    return key_id, secret


def secret_matches(secret: str, stored_sha256: bytes) -> bool:
    """Constant-time comparison of a presented secret with the stored digest."""
    return hmac.compare_digest(sha256(secret), bytes(stored_sha256))


def new_session_token() -> str:
    """A session cookie value (256 random bits)."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """The per-session token a cookie-authenticated write must echo in ``X-CSRF-Token``."""
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    """argon2id PHC string of a password (refuses passwords shorter than 8 characters)."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with ``stored_hash`` None (unknown user) it costs the same and fails."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
