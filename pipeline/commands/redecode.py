"""``odczyt redecode --since …``: decode kept frames again (a key arrived, a driver improved)."""

from __future__ import annotations

from datetime import datetime

import typer

from core.errors import UserError
from core.settings import Settings
from pipeline.cli_params import when
from pipeline.commands.db import database_url, master_key_bytes


def register(app: typer.Typer) -> None:
    """Add the ``redecode`` command."""

    @app.command()
    def redecode(since: datetime = typer.Option(..., parser=when, metavar="TIME",
                                                help="ISO time, e.g. 2026-11-01T00:00:00Z, or an age like 7d"),
                 until: datetime = typer.Option(None, parser=when, metavar="TIME", help="ISO time (default: now)"),
                 all_frames: bool = typer.Option(False, "--all", help="Also frames already decoded (driver fix)."),
                 replace: bool = typer.Option(False, help="Overwrite stored readings' values.")) -> None:
        """Re-decode kept frames; only undecoded ones unless --all."""
        from pipeline.ingest_redecode import redecode as run

        if until is not None and until <= since:
            raise UserError(f"--until {until:%Y-%m-%d %H:%M} is not after --since {since:%Y-%m-%d %H:%M}")
        import psycopg

        from storage.registry import check_master_key

        settings = Settings()
        master, db_url = master_key_bytes(settings), database_url(settings)
        with psycopg.connect(db_url) as conn:  # without the registry's master key nothing would decode
            check_master_key(conn, master_key=master)
        report = run(db_url, since=since, until=until, master_key=master, all_frames=all_frames, replace=replace)
        typer.echo(str(report))
