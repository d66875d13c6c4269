"""Analysis job: load frames from storage, run every alert rule once, apply the lifecycle, queue notifications.

``run_analysis`` is called by ``odczyt analyze``, the demo and (via :class:`AnalysisScheduler`) the ingest
service; ``dispatch_outbox`` sends queued notifications through the configured channels.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from alerts.channels import EmailChannel, MqttChannel, SmtpConfig, WebhookChannel
from alerts.channels.sms import sms_channel
from alerts.config import RuleConfig
from alerts.engine import RULES, kinds_of
from alerts.lifecycle import OpenAlert, Plan, plan
from alerts.notify import Channel, Outcome, RetryPolicy, build_payload, deliver
from alerts.rules_service import removed_meters
from core.settings import AnalyticsSettings, Settings
from core.types import Severity
from pipeline.analyze_shards import run_rules
from storage import alerts as store
from storage import alerts_outbox as outbox
from storage import analysis_state
from storage.analytics import load_points

log = logging.getLogger(__name__)
# Weakly keyed: a registry that is gone must not hand its gauge to a new one that reuses its id().
_GAUGES: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


@dataclass
class AnalysisReport:
    """What one run did: alerts raised (incl. already-finished episodes), escalated, resolved; timings."""

    now: datetime
    since: datetime | None
    readings: int
    raised: list[dict[str, Any]] = field(default_factory=list)
    escalated: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def raised_by_kind(self) -> dict[str, int]:
        """Alerts raised in this run, counted by kind."""
        return dict(Counter(a["kind"] for a in self.raised))

    def resolved_by_kind(self) -> dict[str, int]:
        """Alerts resolved in this run, counted by kind."""
        return dict(Counter(a["kind"] for a in self.resolved))


def open_alerts_gauge(registry: CollectorRegistry = REGISTRY) -> Gauge:
    """``odczyt_alerts_open{kind}``: unresolved alerts by kind (one gauge per registry)."""
    gauge = _GAUGES.get(registry)
    if gauge is None:
        gauge = _GAUGES[registry] = Gauge("odczyt_alerts_open", "Unresolved alerts by kind", ["kind"],
                                          registry=registry)
    return gauge


def run_analysis(
    db_url: str,
    *,
    now: datetime | None = None,
    settings: AnalyticsSettings | RuleConfig | None = None,
    since: datetime | None = None,
    lookback_days: int = 400,
    rules: tuple[str, ...] = RULES,
    registry: CollectorRegistry | None = REGISTRY,
    shards: int = 1,
    processes: int = 1,
    incremental: bool = False,
    incremental_margin: timedelta = timedelta(hours=48),
) -> AnalysisReport:
    """Run ``rules`` over the last ``lookback_days`` of readings and apply the alert lifecycle.

    ``since`` (default: the previous run's ``now``, else one day back) bounds which finished episodes are
    recorded as raised-and-resolved. Notifications are queued in the same transaction as each change.
    ``shards`` splits the fleet by meter keys (one shard's readings in memory at a time, in ``processes``
    worker processes); ``incremental`` evaluates only meters with new readings since the previous run
    (:mod:`pipeline.analyze_shards`), those measured up to ``incremental_margin`` before it included.
    """
    cfg = settings if isinstance(settings, RuleConfig) else RuleConfig.from_settings(settings)
    now = now or datetime.now(UTC)
    t0 = time.perf_counter()
    ev, full = run_rules(db_url, now=now, cfg=cfg, rules=rules, lookback_days=lookback_days, shards=shards,
                         processes=processes, incremental=incremental, margin=incremental_margin)
    points = load_points(db_url)
    ran_kinds = [k for r in rules for k in kinds_of(r)]
    evaluated = {k: ev.evaluated_meters[r] for r in rules for k in kinds_of(r)}
    with psycopg.connect(db_url) as conn:
        if since is None:
            since = store.last_analysis_now(conn) or now - timedelta(days=1)
        current = [_open_alert(a) for a in store.open_alerts(conn, kinds=ran_kinds)]
        todo = plan(ev.detections, current, ran_kinds=ran_kinds, evaluated=evaluated, now=now, since=since,
                    removed=removed_meters(points, now))
        report = AnalysisReport(now=now, since=since, readings=ev.readings, seconds=dict(ev.seconds))
        _apply(conn, todo, now, report)
        if ev.last_heard is not None:
            analysis_state.save_last_heard(conn, ev.last_heard, replace=full)
        analysis_state.record_progress(conn, now=now, full_run=full)
        store.record_analysis_run(
            conn, now=now, raised=len(report.raised), resolved=len(report.resolved), seconds=report.seconds
        )
        counts = store.open_counts_by_kind(conn)
    if registry is not None:
        gauge = open_alerts_gauge(registry)
        for kind in {*counts, *ran_kinds}:
            gauge.labels(kind=kind).set(counts.get(kind, 0))
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _open_alert(row: dict[str, Any]) -> OpenAlert:
    return OpenAlert(
        id=row["id"],
        kind=row["kind"],
        subject=row["subject"],
        severity=Severity(row["severity"]),
        meter_key=row["meter_key"],
        state=row["state"],
    )


def _apply(conn: psycopg.Connection, todo: Plan, now: datetime, report: AnalysisReport) -> None:
    """Write the plan and queue a notification per change, all in one transaction."""
    for r in todo.raises:
        a = r.alert
        alert_id = store.insert_alert(
            conn,
            kind=a.kind,
            subject=r.subject,
            meter_key=a.meter_key or None,
            service_point_id=a.service_point,
            severity=a.severity.value,
            dedupe_key=r.dedupe_key,
            evidence=a.evidence,
            detected_at=a.detected_at,
            now=now,
            resolved=r.resolved,
        )
        if alert_id is not None:
            _notify(conn, alert_id, "raised", now, report.raised)
    for e in todo.escalations:
        if store.escalate(conn, alert_id=e.alert_id, severity=e.severity.value, evidence=e.evidence, at=now):
            _notify(conn, e.alert_id, "escalated", now, report.escalated)
    for res in todo.resolutions:
        if store.resolve(conn, alert_id=res.alert_id, at=now, resolution=res.resolution):
            _notify(conn, res.alert_id, "resolved", now, report.resolved)


def _notify(conn: psycopg.Connection, alert_id: int, event: str, now: datetime, sink: list[dict[str, Any]]) -> None:
    row = store.get_alert(conn, alert_id=alert_id)
    assert row is not None
    sink.append(row)
    outbox.enqueue_for_subscribers(conn, alert_id=alert_id, event=event, payload=build_payload(event, row), at=now)


def dispatch_outbox(
    db_url: str,
    channels: dict[str, Channel],
    *,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 100,
    master_key: bytes | None = None,
) -> list[Outcome]:
    """Send due notifications once; failures are rescheduled with backoff or dead-lettered. ``master_key`` opens
    the webhooks' sealed signing secrets (without it webhooks are not sent: never unsigned)."""
    policy = policy or RetryPolicy()
    now = now or datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = outbox.claim_due(conn, now=now, limit=limit, master_key=master_key)
        outcomes = deliver(rows, channels, policy, now)
        for o in outcomes:
            if o.ok:
                outbox.mark_sent(conn, outbox_id=o.outbox_id, at=now)
            else:
                outbox.mark_failed(
                    conn, outbox_id=o.outbox_id, error=o.error or "", at=now, next_attempt_at=o.next_attempt_at
                )
                log.warning("notification %s failed%s: %s", o.outbox_id, " (dead-lettered)" if o.dead else "", o.error)
    return outcomes


def configured_channels(settings: Settings) -> dict[str, Channel]:
    """The notification channels ``settings.notify`` configures (webhook, e-mail, MQTT, SMS)."""
    n = settings.notify
    channels: dict[str, Channel] = {}
    if n.webhook:
        channels["webhook"] = WebhookChannel(timeout_s=n.webhook_timeout_s)
    if n.smtp_host:
        channels["email"] = EmailChannel(SmtpConfig(
            host=n.smtp_host, port=n.smtp_port, sender=n.smtp_sender, starttls=n.smtp_starttls,
            username=n.smtp_username, password=n.smtp_password.get_secret_value() if n.smtp_password else None))
    if n.mqtt and settings.mqtt_url:
        url = urlsplit(settings.mqtt_url)
        channels["mqtt"] = MqttChannel(url.hostname or "127.0.0.1", url.port or 1883)
    if n.sms_url:
        channels["sms"] = sms_channel(n)
    return channels


def dispatch_all(db_url: str, channels: dict[str, Channel], *, now: datetime | None = None,
                 master_key: bytes | None = None) -> list[Outcome]:
    """:func:`dispatch_outbox` until nothing is due (each pass claims at most 100 notifications)."""
    outcomes: list[Outcome] = []
    while batch := dispatch_outbox(db_url, channels, now=now, master_key=master_key):
        outcomes += batch
        if len(batch) < 100:
            break
    return outcomes


class AnalysisScheduler:
    """Runs ``run_analysis`` (and an outbox pass) every ``interval_s`` in a daemon thread until ``stop``."""

    def __init__(
        self, interval_s: float, db_url: str, *, channels: dict[str, Channel] | None = None,
        master_key: bytes | None = None, **analysis_kwargs: Any
    ) -> None:
        self.interval_s, self.db_url, self.master_key = interval_s, db_url, master_key
        self.channels = channels or {}
        self.analysis_kwargs = analysis_kwargs
        self.last_report: AnalysisReport | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AnalysisScheduler:
        """Start the loop (the first run happens immediately)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="odczyt-analysis", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the loop to end and wait for the current run to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_report = run_analysis(self.db_url, **self.analysis_kwargs)
                if self.channels:
                    dispatch_outbox(self.db_url, self.channels, master_key=self.master_key)
            except Exception:  # a failed run must not end the schedule; the next one retries
                log.exception("analysis run failed")
            self.runs += 1
            self._stop.wait(self.interval_s)
