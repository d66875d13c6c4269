"""Notification payloads, the retry/backoff schedule and one delivery pass over claimed outbox rows.

Storage queues and claims rows (``storage/alerts_outbox.py``); this module only sends them through the
channels and says what happened, so the caller can record it in the same database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from alerts.errors import DeliveryError
from alerts.subject import describe, links, notice_pl

PAYLOAD_VERSION = 1


class Channel(Protocol):
    """Anything that can deliver one payload to one target, raising DeliveryError on failure."""

    def send(
        self, target: str, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff between attempts; dead-letter after ``max_attempts``."""

    max_attempts: int = 8
    base_s: float = 10.0
    factor: float = 3.0
    max_s: float = 6 * 3600.0

    def next_attempt(self, attempts_done: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts_done`` failed attempts, or None to dead-letter."""
        if attempts_done >= self.max_attempts:
            return None
        delay = min(self.max_s, self.base_s * self.factor ** max(0, attempts_done - 1))
        return now + timedelta(seconds=delay)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    outbox_id: int
    ok: bool
    error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def dead(self) -> bool:
        """True when the message is given up (dead-lettered)."""
        return not self.ok and self.next_attempt_at is None


_PAYLOAD_KEYS = (
    "id", "kind", "subject", "meter_key", "manufacturer", "meter_id", "service_point_id", "address", "customer_ref",
    "area", "gateway_id", "incident_id", "severity", "state", "evidence", "detected_at", "opened_at",
    "acknowledged_by", "assignee", "resolved_at", "resolution", "dismiss_reason",
)


def build_payload(event: str, alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON document every channel sends for an alert ``event`` (raised, escalated, resolved …).

    It names the subject (meter manufacturer + id, service point, address, customer reference, area) and
    carries the drill-down links, so a notice is actionable without the internal meter key.
    """
    body = {k: alert.get(k) for k in _PAYLOAD_KEYS}
    for k in ("detected_at", "opened_at", "resolved_at"):
        value = body[k]
        if isinstance(value, datetime):
            body[k] = value.isoformat()
    body["description"] = describe(alert)
    body["links"] = links(alert)
    return {"version": PAYLOAD_VERSION, "event": event, "alert": body}


def for_audience(payload: dict[str, Any], audience: str | None) -> dict[str, Any]:
    """The payload as a subscriber of ``audience`` gets it: customers get the Polish notice, no internals."""
    if audience != "customer":
        return payload
    alert = payload.get("alert", {})
    keep = ("id", "kind", "service_point_id", "address", "manufacturer", "meter_id", "severity", "detected_at")
    return {
        "version": payload.get("version"), "event": payload.get("event"), "audience": "customer",
        "alert": {k: alert.get(k) for k in keep},
        "text_pl": notice_pl(str(payload.get("event")), alert),
    }


def deliver(
    rows: Iterable[dict[str, Any]], channels: dict[str, Channel], policy: RetryPolicy, now: datetime
) -> list[Outcome]:
    """Try every claimed row once; a channel that is not configured counts as a failed attempt."""
    out = []
    for row in rows:
        sub = row["subscription"]
        channel = channels.get(sub["channel"])
        try:
            if channel is None:
                raise DeliveryError(f"channel {sub['channel']!r} is not configured")
            payload = for_audience(row["payload"], sub.get("audience"))
            channel.send(sub["target"], payload, secret=sub.get("secret"), delivery_id=str(row["id"]))
        except DeliveryError as exc:
            out.append(Outcome(row["id"], False, str(exc), policy.next_attempt(row["attempts"] + 1, now)))
        else:
            out.append(Outcome(row["id"], True))
    return out
