"""``odczyt analyze`` (run every alert rule once) and ``odczyt alerts list|ack|subscribe|dispatch``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from core.errors import ConfigError, UserError
from core.settings import Settings
from pipeline.cli_params import cli_actor, when
from pipeline.commands.db import check_database_url, master_key_bytes

AlertState = Literal["open", "acknowledged", "resolved", "dismissed", "all"]
Severity = Literal["info", "warning", "critical"]
Channel = Literal["webhook", "email", "mqtt", "sms"]


def _db_url(settings: Settings, db_url: str | None) -> str:
    url = db_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if not url:
        raise ConfigError("no database: pass --db-url or set ODCZYT_DATABASE_URL")
    return check_database_url(url, source="--db-url" if db_url else "ODCZYT_DATABASE_URL")


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[json.dumps(r[c], default=str) if isinstance(r[c], dict) else str(r[c]) for c in columns])
    return table


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and the ``alerts`` group."""
    cols = ("id", "kind", "subject", "severity", "state", "evidence")

    @app.command("analyze")
    def analyze(
        since: datetime = typer.Option(
            None, parser=when, metavar="TIME",
            help="record finished episodes that ended after this (ISO time or age like 7d); default: the previous run"
        ),
        now: datetime = typer.Option(None, parser=when, metavar="TIME",
                                     help="evaluate as of this time (ISO; default: now)"),
        lookback_days: int = typer.Option(400, min=1, help="days of readings to load"),
        shards: int = typer.Option(1, min=1, max=10_000,
                                   help="split the fleet into this many meter-key shards (one in memory at a time)"),
        processes: int = typer.Option(1, min=1, max=64, help="run shards in this many local processes"),
        incremental: bool = typer.Option(False, "--incremental",
                                         help="only meters with new readings since the previous run (plus the "
                                              "registry rules over all); a full run when there was none"),
        margin_hours: float = typer.Option(48.0, min=0.0, max=24 * 400,
                                           help="--incremental: also meters with readings measured this long "
                                                "before the previous run (late arrivals)"),
        db_url: str = typer.Option(None, help="PostgreSQL URL (default ODCZYT_DATABASE_URL)"),
    ) -> None:
        """Run every alert rule once and show what was raised and resolved."""
        from pipeline.analyze import run_analysis

        settings = Settings()
        report = run_analysis(
            _db_url(settings, db_url),
            now=now,
            since=since,
            settings=settings.analytics,
            lookback_days=lookback_days,
            shards=shards,
            processes=processes,
            incremental=incremental,
            incremental_margin=timedelta(hours=margin_hours),
        )
        console = Console()
        console.print(_table(f"raised ({len(report.raised)})", report.raised, cols))
        console.print(_table(f"escalated ({len(report.escalated)})", report.escalated, cols))
        console.print(_table(f"resolved ({len(report.resolved)})", report.resolved, cols))
        timing = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
        console.print(f"{report.readings:,} readings as of {report.now:%Y-%m-%d %H:%M} UTC — {timing}")

    alerts = typer.Typer(help="List, acknowledge and route alerts.", no_args_is_help=True)
    app.add_typer(alerts, name="alerts")

    @alerts.command("list")
    def list_(
        state: AlertState = typer.Option("open", help="which alerts ('all': any state)"),
        kind: str = typer.Option(None),
        limit: int = typer.Option(50, min=1, max=10_000),
        db_url: str = typer.Option(None),
    ) -> None:
        """Show alerts (newest first)."""
        from storage.alerts import list_alerts

        with psycopg.connect(_db_url(Settings(), db_url)) as conn:
            rows = list_alerts(conn, state=None if state == "all" else state, kind=kind, limit=limit)
        Console().print(_table(f"{state} alerts", rows, cols))

    @alerts.command("ack")
    def ack(
        alert_id: int,
        actor: str = typer.Option("cli"),
        note: str = typer.Option(None),
        db_url: str = typer.Option(None),
    ) -> None:
        """Acknowledge an open alert (audited; subscribers of 'acknowledged' are notified)."""
        from pipeline.alert_actions import act

        row = act(_db_url(Settings(), db_url), "ack", alert_id, actor=cli_actor() if actor == "cli" else actor,
                  text=note)
        typer.echo(f"alert {alert_id}: {row['state']}")

    @alerts.command("dispatch")
    def dispatch(db_url: str = typer.Option(None)) -> None:
        """Send the notifications that are due now through the configured channels (ODCZYT_NOTIFY__*); failed
        ones are rescheduled with backoff or dead-lettered. `odczyt ingest --analyze-every` does this after
        every analysis run."""
        from pipeline.analyze import configured_channels, dispatch_all

        settings = Settings()
        outcomes = dispatch_all(_db_url(settings, db_url), configured_channels(settings),
                                master_key=master_key_bytes(settings))
        sent = sum(1 for o in outcomes if o.ok)
        dead = sum(1 for o in outcomes if o.dead)
        typer.echo(f"{sent} sent, {len(outcomes) - sent - dead} to retry, {dead} dead-lettered")
        if len(outcomes) > sent:
            raise typer.Exit(1)

    @alerts.command("subscribe")
    def subscribe(
        channel: Channel,
        target: str,
        kind: list[str] = typer.Option(None),
        area: list[str] = typer.Option(None),
        min_severity: Severity = typer.Option("info"),
        secret: str = typer.Option(None, help="webhook signing secret (default: a generated one, printed once)"),
        db_url: str = typer.Option(None),
    ) -> None:
        """Store a subscription: CHANNEL (webhook, email, mqtt, sms) to TARGET (URL, address, topic, number).

        Webhooks are always signed (docs/alerts.md); their secret is sealed with ODCZYT_MASTER_KEY."""
        from storage import audit
        from storage.alerts_outbox import add_subscription, new_webhook_secret

        settings = Settings()
        master = master_key_bytes(settings)
        if secret and channel != "webhook":
            raise UserError(f"--secret signs webhooks only; {channel} subscriptions have no secret")
        if channel == "webhook" and master is None:
            raise ConfigError("webhook secrets are sealed with the master key: set ODCZYT_MASTER_KEY")
        generated = new_webhook_secret() if channel == "webhook" and not secret else None
        with psycopg.connect(_db_url(settings, db_url)) as conn, conn.transaction():
            sub_id = add_subscription(
                conn,
                channel=channel,
                target=target,
                secret=secret or generated,
                kinds=kind or None,
                min_severity=min_severity,
                areas=area or None,
                master_key=master,
            )
            audit.record(conn, actor=cli_actor(), action="alert_subscription.create", subject=f"subscription:{sub_id}",
                         after={"channel": channel, "target": target, "kinds": kind or None, "areas": area or None,
                                "min_severity": min_severity})
        typer.echo(f"subscription {sub_id}")
        if generated:
            typer.echo(f"signing secret (shown once, give it to the receiver): {generated}")
