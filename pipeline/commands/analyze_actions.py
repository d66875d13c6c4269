"""``odczyt alerts resolve|dismiss|assign|comment`` (added to the ``alerts`` group of ``commands.analyze``),
``odczyt gateways watch|list`` and ``odczyt notices subscribe|opt-out|list`` (customer notices)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from core.errors import UserError
from core.settings import Settings
from pipeline.cli_params import cli_actor
from pipeline.commands.analyze import _db_url


def _alerts_group(app: typer.Typer) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == "alerts" and group.typer_instance is not None:
            return group.typer_instance
    raise RuntimeError("the 'alerts' command group is registered by pipeline.commands.analyze first")


def _print_table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """Print ``rows`` as a table titled with their count; a missing value shows as ``-``."""
    table = Table(title=f"{title} ({len(rows)})")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(r[c]) if r[c] is not None else "-" for c in columns])
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the lifecycle actions to ``odczyt alerts``, the ``gateways`` and the ``notices`` groups."""
    alerts = _alerts_group(app)
    register_notices(app)

    def run(verb: str, alert_id: int, text: str | None, db_url: str | None) -> None:
        from pipeline.alert_actions import act

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
        _print_table("gateways", rows, cols)


def register_notices(app: typer.Typer) -> None:
    """Add ``odczyt notices``: customers' leak notices at their service point (opt-in / opt-out recorded)."""
    notices = typer.Typer(help="Customer leak notices by e-mail or SMS (consent recorded).", no_args_is_help=True)
    app.add_typer(notices, name="notices")

    @notices.command("subscribe")
    def subscribe(service_point: str, channel: str = typer.Argument(..., help="email or sms"),
                  contact: str = typer.Argument(..., help="the customer's e-mail address or phone number"),
                  source: str = typer.Option(..., help="where the consent came from (e-BOK, paper form …)"),
                  threshold: float = typer.Option(None, min=0.0001, help="the customer's own leak threshold, m³/h"),
                  db_url: str = typer.Option(None)) -> None:
        """Opt a customer in to leak notices at SERVICE_POINT."""
        from alerts.channels.sms import normalize_phone
        from storage import notices as store
        from storage.errors import RegistryError

        if channel not in ("email", "sms"):
            raise UserError(f"channel must be email or sms, not {channel!r}")
        if channel == "sms":
            try:
                normalize_phone(contact)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        elif "@" not in contact:
            raise UserError(f"not an e-mail address: {contact!r}")
        with psycopg.connect(_db_url(Settings(), db_url)) as conn:
            try:
                sub_id = store.subscribe(conn, service_point_id=service_point, channel=channel, contact=contact,
                                         source=source, at=datetime.now(UTC), leak_threshold_m3h=threshold)
            except RegistryError as exc:
                raise UserError(str(exc)) from None
        typer.echo(f"notice subscription {sub_id} ({channel}) at {service_point}")

    @notices.command("opt-out")
    def opt_out(subscription_id: int, source: str = typer.Option(..., help="where the opt-out came from"),
                db_url: str = typer.Option(None)) -> None:
        """Stop a customer's notices (the opt-out is recorded)."""
        from storage import notices as store

        with psycopg.connect(_db_url(Settings(), db_url)) as conn:
            if not store.opt_out(conn, subscription_id=subscription_id, source=source, at=datetime.now(UTC)):
                raise UserError(f"no active customer subscription {subscription_id}")
        typer.echo(f"notice subscription {subscription_id}: opted out")

    @notices.command("list")
    def list_(service_point: str = typer.Option(None), db_url: str = typer.Option(None)) -> None:
        """Show customer subscriptions (contact, threshold, consent state)."""
        from storage import notices as store

        with psycopg.connect(_db_url(Settings(), db_url)) as conn:
            rows = store.list_subscriptions(conn, service_point_id=service_point)
        cols = ("id", "service_point_id", "channel", "target", "leak_threshold_m3h", "active", "opted_in_at",
                "opted_out_at", "consent_source")
        _print_table("customer notices", rows, cols)
