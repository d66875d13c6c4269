"""Gateway health rules, pure: when a gateway counts as offline, and when as degraded.

``gateway_offline``: the broker published the gateway's last will (``lost``), it stopped (``stopped``), or no
heartbeat arrived for ``offline_after_heartbeats`` × its interval (``no heartbeat``). ``gateway_degraded``: the
spool grew at each of the last ``spool_growing_heartbeats`` heartbeats and holds at least
``spool_growing_min_frames`` (frames are heard but not delivered), or a receiver's watchdog reset it since
the previous heartbeat (the receiver went silent). Both resolve when the condition is gone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

OFFLINE = "gateway_offline"
DEGRADED = "gateway_degraded"
OFFLINE_SEVERITY = {"lost": "critical", "no heartbeat": "critical", "stopped": "warning"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One heartbeat's health figures."""

    at: datetime
    spool_depth: int | None
    watchdog_resets: int | None


@dataclass(frozen=True, slots=True)
class GatewayRules:
    """Thresholds (from ``core.settings.GatewaySettings``)."""

    heartbeat_s: float = 60.0
    offline_after_heartbeats: float = 3.0
    spool_growing_heartbeats: int = 3
    spool_growing_min_frames: int = 100

    @classmethod
    def from_settings(cls, settings: Any) -> GatewayRules:
        """Take the matching fields of ``GatewaySettings``."""
        return cls(settings.heartbeat_s, settings.offline_after_heartbeats, settings.spool_growing_heartbeats,
                   settings.spool_growing_min_frames)


def heartbeat_overdue(last_heartbeat_at: datetime | None, heartbeat_s: float | None, now: datetime,
                      rules: GatewayRules) -> bool:
    """True when no heartbeat arrived for ``offline_after_heartbeats`` × the gateway's interval."""
    if last_heartbeat_at is None:
        return False
    interval = heartbeat_s or rules.heartbeat_s
    return now - last_heartbeat_at > timedelta(seconds=interval * rules.offline_after_heartbeats)


def degradation(history: Sequence[Sample], rules: GatewayRules) -> dict[str, Any] | None:
    """Evidence of degradation from the heartbeat history (oldest first), or None when healthy."""
    evidence: dict[str, Any] = {}
    n = rules.spool_growing_heartbeats
    depths = [s.spool_depth for s in history[-(n + 1):] if s.spool_depth is not None]
    growing = len(depths) == n + 1 and all(b > a for a, b in itertools.pairwise(depths))
    if growing and depths[-1] >= rules.spool_growing_min_frames:
        evidence["spool_growing"] = {"depths": depths, "heartbeats": n}
    if len(history) >= 2:
        prev, last = history[-2].watchdog_resets, history[-1].watchdog_resets
        if prev is not None and last is not None and last > prev:
            evidence["watchdog_resets"] = {"since_previous_heartbeat": last - prev, "total": last}
    return evidence or None
