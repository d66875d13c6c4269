"""Gateway health: the counters the worker keeps and the JSON heartbeat / last-will documents.

Topic ``odczyt/v1/status/{gateway_id}``, retained, QoS 1. ``state`` is ``online`` (heartbeat), ``offline``
with ``reason: stopped`` (clean stop) or ``reason: lost`` (the broker published our last will).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from hardware.receiver import Receiver

STATUS_VERSION = 1
try:
    _FIRMWARE = f"odczyt {metadata.version('odczyt')}"
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    _FIRMWARE = "odczyt"


@dataclass
class GatewayStats:
    """What the gateway has done since start."""

    received: int = 0  # frames submitted (receivers + submit())
    duplicates: int = 0  # suppressed repeats
    spooled: int = 0  # frames written to the spool
    published: int = 0  # frames the broker acknowledged (and that left the spool)
    resent: int = 0  # frames re-published after a refused or timed-out ack
    spool_depth: int = 0
    spool_dropped: int = 0  # oldest frames dropped because the spool was full
    inflight_frames: int = 0
    connected: bool = False
    awaiting_receipt: int = 0  # frames acknowledged by the broker, not yet receipted as stored (receipts on)
    receipted: int = 0  # frames the ingest side receipted as stored (and that left the spool)
    oldest_unreceipted_s: float = 0.0  # age of the oldest published frame still awaiting its receipt
    disk_full: bool = False  # the spool cannot be written (SQLITE_FULL, ENOSPC): frames are held in memory
    memory_held: int = 0  # frames held in memory while the spool cannot be written
    memory_dropped: int = 0  # oldest held frames dropped beyond the memory bound (exact count)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if ts else None


def receiver_health(rx: Receiver) -> dict[str, Any]:
    """One receiver's health entry."""
    s = rx.stats
    return {
        "source": rx.source, "kind": rx.driver.name, "port": rx.port, "link_mode": rx.link_mode,
        "connected": s.connected, "frames": s.frames, "frames_per_min": s.frames_per_min(),
        "crc_errors": s.crc_errors, "framing_errors": s.framing_errors, "reconnects": s.reconnects,
        "watchdog_resets": s.watchdog_resets, "last_frame_at": _iso(s.last_frame_at),
        "rssi_dbm": s.rssi_summary(),
    }


def heartbeat(gateway_id: str, stats: GatewayStats, receivers: list[Receiver], *, spool_max: int,
              oldest: datetime | None, uptime_s: float, protocol: str, heartbeat_s: float | None = None) -> bytes:
    """The ``online`` status document (``heartbeat_s``: the interval, so the server knows when one is overdue)."""
    doc = {
        "v": STATUS_VERSION, "gateway": gateway_id, "state": "online", "at": _iso(datetime.now(UTC)),
        "uptime_s": round(uptime_s, 1), "mqtt_protocol": protocol, "firmware": _FIRMWARE,
        **({"heartbeat_s": heartbeat_s} if heartbeat_s else {}),
        "spool": {"depth": stats.spool_depth, "max": spool_max, "dropped": stats.spool_dropped,
                  "full": stats.spool_depth >= spool_max, "oldest_received_at": _iso(oldest)},
        "frames": {k: v for k, v in asdict(stats).items() if k not in ("spool_depth", "spool_dropped")},
        "receivers": [receiver_health(rx) for rx in receivers],
        **({"degraded": ["disk_full"]} if stats.disk_full else {}),  # gateway_degraded, with its cause
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def offline(gateway_id: str, reason: str) -> bytes:
    """The ``offline`` document (last will: ``lost``; clean stop: ``stopped``)."""
    doc = {"v": STATUS_VERSION, "gateway": gateway_id, "state": "offline", "reason": reason}
    if reason != "lost":
        doc["at"] = _iso(datetime.now(UTC))
    return json.dumps(doc, separators=(",", ":")).encode()
