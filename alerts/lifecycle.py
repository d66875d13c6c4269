"""Alert lifecycle as a pure plan: detections + currently open alerts → what to raise, escalate, resolve.

States: open → acknowledged → resolved. One open (or acknowledged) alert per subject and kind; a subject is
``m:<meter_key>`` or, for service-point rules, ``sp:<id>``. An alert resolves automatically when its rule
ran over its meter and the condition no longer holds. ``dedupe_key`` makes raising idempotent: storage keeps
one alert per (kind, subject, dedupe_key), which is also the once-a-day debounce of meter flags.
Storage applies the plan (``storage/alerts.py``); nothing here touches the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from core.types import Alert, Severity

SERVICE_POINT_KINDS = frozenset({"consumption_anomaly", "night_flow"})
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert that is open or acknowledged in storage."""

    id: int
    kind: str
    subject: str
    severity: Severity
    meter_key: int | None = None
    state: str = "open"


@dataclass(frozen=True, slots=True)
class Raise:
    """A new alert; ``resolved`` when the episode was already over (e.g. a burst between two runs)."""

    alert: Alert
    subject: str
    dedupe_key: str
    resolved: bool = False
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """An open alert whose condition got worse."""

    alert_id: int
    severity: Severity
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resolve:
    """An open alert whose condition cleared."""

    alert_id: int
    kind: str
    subject: str
    resolution: str = "auto"


@dataclass
class Plan:
    """What one analysis run changes."""

    raises: list[Raise] = field(default_factory=list)
    escalations: list[Escalate] = field(default_factory=list)
    resolutions: list[Resolve] = field(default_factory=list)


def subject_of(kind: str, meter_key: int | None, service_point_id: str | None) -> str:
    """The subject an alert of ``kind`` is about."""
    if kind in SERVICE_POINT_KINDS and service_point_id:
        return f"sp:{service_point_id}"
    return f"m:{meter_key}"


def plan(
    detections: pl.DataFrame,
    open_alerts: Sequence[OpenAlert],
    *,
    ran_kinds: Iterable[str],
    evaluated: dict[str, set[int]],
    now: datetime,
    since: datetime | None,
    removed: frozenset[int] = frozenset(),
) -> Plan:
    """Decide the lifecycle changes of one run.

    ``evaluated`` maps a kind to the meters its rule looked at: only those alerts may auto-resolve.
    Finished episodes that ended after ``since`` (the previous run) and were never raised are recorded as
    raised-and-resolved so short events (bursts, one-off flags) are not lost between runs. Meters in
    ``removed`` (taken out of service) raise nothing, and their open alerts resolve as ``meter removed``.
    """
    out = Plan()
    open_by = {(a.kind, a.subject): a for a in open_alerts}
    active: set[tuple[str, str]] = set()
    rows = detections.sort("kind", "meter_key", "started_at", nulls_last=True).iter_rows(named=True)
    for row in rows:
        subject = subject_of(row["kind"], row["meter_key"], row["service_point_id"])
        if subject.startswith("m:") and row["meter_key"] in removed:
            continue
        key = (row["kind"], subject)
        if row["active"]:
            active.add(key)
            _on_active(out, row, subject, open_by.get(key), now)
        elif key not in open_by and since is not None and row["ended_at"] and row["ended_at"] > since:
            out.raises.append(_raise(row, subject, now, resolved=True))
    kinds = set(ran_kinds)
    for key, alert in open_by.items():
        if alert.meter_key in removed and alert.subject.startswith("m:"):
            out.resolutions.append(Resolve(alert.id, alert.kind, alert.subject, "meter removed"))
            continue
        if key in active or alert.kind not in kinds:
            continue
        if alert.meter_key is None or alert.meter_key in evaluated.get(alert.kind, set()):
            out.resolutions.append(Resolve(alert.id, alert.kind, alert.subject))
    return out


def _on_active(out: Plan, row: dict[str, Any], subject: str, existing: OpenAlert | None, now: datetime) -> None:
    severity = Severity(row["severity"])
    if existing is None:
        # several active episodes of one subject (rare): keep the first, one open alert per subject and kind
        if not any(r.subject == subject and r.alert.kind == row["kind"] and not r.resolved for r in out.raises):
            out.raises.append(_raise(row, subject, now, resolved=False))
    elif _RANK[severity] > _RANK[existing.severity]:
        out.escalations.append(Escalate(existing.id, severity, json.loads(row["evidence"] or "{}")))


def _raise(row: dict[str, Any], subject: str, now: datetime, *, resolved: bool) -> Raise:
    alert = Alert(
        kind=row["kind"],
        meter_key=int(row["meter_key"]) if row["meter_key"] is not None else 0,
        severity=Severity(row["severity"]),
        detected_at=row["started_at"] or now,
        evidence=json.loads(row["evidence"] or "{}"),
        service_point=row["service_point_id"],
    )
    return Raise(alert, subject, row["dedupe_key"] or f"{now:%Y-%m-%d}", resolved, row["ended_at"])
