"""``odczyt audit list``: the audit log, newest first (the same rows as ``GET /v1/audit``)."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from pipeline.cli_params import when
from pipeline.commands.api_keys import _fmt, connect


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group."""
    audit = typer.Typer(help="The audit log of every write.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("list")
    def list_cmd(
        actor: str = typer.Option(None, help="e.g. key:billing-export, user:anna, cli:root."),
        action: str = typer.Option(None, help="e.g. alert.ack, or a prefix: 'alert.*'."),
        subject: str = typer.Option(None, help="e.g. alert:17, user:anna."),
        since: datetime = typer.Option(None, parser=when, help="From (ISO date/time or an age: 7d)."),
        until: datetime = typer.Option(None, parser=when, help="Before (ISO date/time or an age)."),
        limit: int = typer.Option(100, min=1, max=10_000, help="At most this many rows."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    ) -> None:
        """Audit rows newest first: time, actor, action, subject, before → after."""
        from storage.audit import list_entries

        with connect() as conn:
            rows = list_entries(conn, actor=actor, action=action, subject=subject, since=since, until=until,
                                limit=limit)
        for r in rows:
            if as_json:
                typer.echo(json.dumps({**r, "at": r["at"].isoformat()}, default=str))
            else:
                change = f"{json.dumps(r['before'], default=str)} → {json.dumps(r['after'], default=str)}"
                typer.echo(f"{_fmt(r['at'])}\t{r['actor']}\t{r['action']}\t{r['subject']}\t{change}")
