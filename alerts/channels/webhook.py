"""Webhook channel: HTTP POST of the JSON payload, body signed with HMAC-SHA256 in ``X-Odczyt-Signature``.

The receiver recomputes ``sha256=<hex hmac(secret, raw body)>`` and compares in constant time
(:func:`verify`). Retries with backoff and dead-lettering are the outbox's job; one call is one attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from alerts.errors import DeliveryError

SIGNATURE_HEADER = "X-Odczyt-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookChannel:
    """POSTs payloads; a non-2xx answer or a connection error is a failed attempt."""

    def __init__(self, *, timeout_s: float = 5.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=timeout_s)

    def send(
        self, target: str, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None:
        """Deliver one payload to the URL ``target``."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "X-Odczyt-Event": str(payload.get("event", ""))}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
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
