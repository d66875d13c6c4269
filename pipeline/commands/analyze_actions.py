"""``odczyt alerts resolve|dismiss|assign|comment`` (added to the ``alerts`` group of ``commands.analyze``) and
``odczyt gateways watch|list``."""

from __future__ import annotations

import time

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from core.errors import UserError
from core.settings import Settings
from pipeline.commands.analyze import _db_url


def _alerts_group(app: typer.Typer) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == "alerts" and group.typer_instance is not None:
            return group.typer_instance
    raise RuntimeError("the 'alerts' command group is registered by pipeline.commands.analyze first")


def register(app: typer.Typer) -> None:
    """Add the lifecycle actions to ``odczyt alerts`` and the ``gateways`` group."""
    alerts = _alerts_group(app)

    def run(verb: str, alert_id: int, text: str | None, db_url: str | None) -> None:
        from pipeline.alert_actions import act, cli_actor

        row = act(_db_url(Settings(), db_url), verb, alert_id, actor=cli_actor(), text=text)
        who = f", assignee {row['assignee']}" if row["assignee"] else ""
        typer.echo(f"alert {alert_id} ({row['kind']}, {row['service_point_id'] or row['subject']}): "
                   f"{row['state']}{who}")

    @alerts.command("resolve")
    def resolve(alert_id: int, note: str = typer.Option(None, help="how it was dealt with"),
                db_url: str = typer.Option(None)) -> None:
        """Resolve an open or acknowledged alert (subscribers are notified)."""
        run("resolve", alert_id, note, db_url)

    @alerts.command("dismiss")
    def dismiss(alert_id: int, reason: str = typer.Option(..., help="why it is a false positive (required)"),
                db_url: str = typer.Option(None)) -> None:
        """Close an alert as a false positive, with a reason."""
        if not reason.strip():
            raise UserError("--reason must say why the alert is a false positive")
        run("dismiss", alert_id, reason, db_url)

    @alerts.command("assign")
    def assign(alert_id: int, assignee: str = typer.Argument(..., help="user name ('-' to unassign)"),
               db_url: str = typer.Option(None)) -> None:
        """Give an unresolved alert to a user."""
        run("assign", alert_id, None if assignee == "-" else assignee, db_url)

    @alerts.command("comment")
    def comment(alert_id: int, text: str, db_url: str = typer.Option(None)) -> None:
        """Add a comment to an alert's history."""
        if not text.strip():
            raise UserError("the comment is empty")
        run("comment", alert_id, text, db_url)

    gateways = typer.Typer(help="Gateway registry and health (from the status topic).", no_args_is_help=True)
    app.add_typer(gateways, name="gateways")

    @gateways.command("watch")
    def watch(db_url: str = typer.Option(None),
              seconds: float = typer.Option(0, min=0, help="stop after (0 = until Ctrl-C)")) -> None:
        """Read odczyt/v1/status/+ into the gateway registry and raise/resolve gateway alerts."""
        from pipeline.commands import interrupt_on_termination
        from pipeline.gateway_status import GatewayWatcher

        settings = Settings()
        if settings.mqtt_url is None:
            raise UserError("ODCZYT_MQTT_URL is not set")
        watcher = GatewayWatcher(db_url=_db_url(settings, db_url), mqtt_url=settings.mqtt_url,
                                 settings=settings.gateways, mqtt_settings=settings.mqtt).start()
        interrupt_on_termination()
        deadline = time.monotonic() + seconds if seconds else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            watcher.stop()
        typer.echo(f"{len(watcher.changes)} gateway alert change(s)")

    @gateways.command("list")
    def list_(db_url: str = typer.Option(None)) -> None:
        """Show every gateway with its state and health figures."""
        from storage.gateways import list_gateways

        with psycopg.connect(_db_url(Settings(), db_url)) as conn:
            rows = list_gateways(conn)
        cols = ("id", "state", "reason", "last_seen_at", "frames_per_min", "spool_depth", "receiver", "open_alerts")
        table = Table(title=f"gateways ({len(rows)})")
        for c in cols:
            table.add_column(c)
        for r in rows:
            table.add_row(*[str(r[c]) if r[c] is not None else "-" for c in cols])
        Console().print(table)
