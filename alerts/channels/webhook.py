"""Webhook channel: HTTP POST of the JSON payload, always signed with HMAC-SHA256 over a timestamp and the body.

Headers of every request::

    X-Odczyt-Timestamp: 1764658800                  (Unix seconds when the request was signed)
    X-Odczyt-Signature: v1=<hex hmac_sha256(secret, timestamp + "." + raw body)>

A receiver recomputes the signature over the raw body it received, compares in constant time, and rejects a
timestamp more than 5 minutes (:data:`TOLERANCE_S`) from its own clock, so a captured request cannot be
replayed later: :func:`verify_signature` does all three. Retries with backoff and dead-lettering are the
outbox's job; one call is one attempt, signed afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from alerts.errors import DeliveryError

SIGNATURE_HEADER = "X-Odczyt-Signature"
TIMESTAMP_HEADER = "X-Odczyt-Timestamp"
TOLERANCE_S = 300  # receivers reject signatures older (or newer) than this


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Odczyt-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = str(int(timestamp)).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, *, timestamp: str | None, signature: str | None,
                     tolerance_s: float = TOLERANCE_S, now: float | None = None) -> bool:
    """For receivers: True when ``signature`` (the ``X-Odczyt-Signature`` header) signs ``body`` with the
    ``X-Odczyt-Timestamp`` header ``timestamp`` under ``secret``, and that timestamp is within ``tolerance_s``
    of ``now`` (default: the clock). A missing header, a malformed timestamp or an old request is False."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, int(timestamp)), signature)


class WebhookChannel:
    """POSTs payloads; a non-2xx answer, a connection error or a missing secret is a failed attempt."""

    def __init__(self, *, timeout_s: float = 5.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=timeout_s)

    def send(
        self, target: str, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None:
        """Deliver one payload to the URL ``target``, signed with ``secret`` (required: never sent unsigned)."""
        if not secret:
            raise DeliveryError(f"webhook {target}: no signing secret (a dispatcher needs ODCZYT_MASTER_KEY, the "
                                "key that sealed it); not sent unsigned")
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "X-Odczyt-Event": str(payload.get("event", "")),
                   TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}
        if delivery_id:
            headers["X-Odczyt-Delivery"] = delivery_id
        try:
            resp = self._client.post(target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {target}: {type(exc).__name__}: {exc}") from exc
        if not resp.is_success:
            raise DeliveryError(f"webhook {target}: HTTP {resp.status_code}")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
