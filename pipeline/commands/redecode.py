"""``odczyt redecode --since …``: decode kept frames again (a key arrived, a driver improved)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from core.settings import Settings
from pipeline.commands.db import database_url


def _when(text: str) -> datetime:
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add the ``redecode`` command."""

    @app.command()
    def redecode(since: str = typer.Option(..., help="ISO time, e.g. 2026-11-01T00:00:00Z"),
                 until: str = typer.Option(None, help="ISO time (default: now)"),
                 all_frames: bool = typer.Option(False, "--all", help="Also frames already decoded (driver fix)."),
                 replace: bool = typer.Option(False, help="Overwrite stored readings' values.")) -> None:
        """Re-decode kept frames; only undecoded ones unless --all."""
        from pipeline.ingest_redecode import redecode as run

        settings = Settings()
        master = bytes.fromhex(settings.master_key.get_secret_value()) if settings.master_key else None
        report = run(database_url(settings), since=_when(since), until=_when(until) if until else None,
                     master_key=master, all_frames=all_frames, replace=replace)
        typer.echo(str(report))
