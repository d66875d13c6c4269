"""``odczyt meters import FILE.csv``, ``odczyt meters import-wmbusmeters DIR`` and ``odczyt meters list``."""

from __future__ import annotations

from pathlib import Path

import typer

from core.settings import Settings
from pipeline.cli_params import cli_actor
from pipeline.commands.db import database_url, master_key_bytes


def register(app: typer.Typer) -> None:
    """Add the ``meters`` command group."""
    meters = typer.Typer(help="The meter registry.", no_args_is_help=True)
    app.add_typer(meters, name="meters")

    @meters.command("import")
    def import_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (docs/schema.md)")) -> None:
        """Import meters, keys, service points, installations and legalization data (all or nothing)."""
        from pipeline.registry_import import CsvImportError, import_meters_csv

        settings = Settings()
        master = master_key_bytes(settings)
        try:
            report = import_meters_csv(database_url(settings), path, master_key=master, actor=cli_actor())
        except CsvImportError as exc:  # a report: the first line says what happened, then one line per problem
            typer.echo(f"odczyt: error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        typer.echo(f"imported {report.lines} line(s): {report.meters} meters, {report.keys_added} new keys, "
                   f"{report.service_points} service points, {report.installations} installations")

    @meters.command("import-wmbusmeters")
    def import_wmbusmeters_cmd(
        folder: Path = typer.Argument(..., help="The wmbusmeters.d folder (files with name, driver, id, key)."),
        manufacturer: str = typer.Option(None, "--manufacturer", metavar="XXX",
                                         help="Manufacturer for files whose driver does not name one."),
    ) -> None:
        """Import a wmbusmeters.d folder into the registry (same checks as 'meters import'; all or nothing)."""
        from pipeline.wmbusmeters_import import import_folder, read_folder

        read_folder(folder, manufacturer)  # the folder's mistakes first, before settings and the database
        settings = Settings()
        meters, report = import_folder(database_url(settings), folder, master_key=master_key_bytes(settings),
                                       actor=cli_actor(), default_manufacturer=manufacturer)
        for m in meters:
            typer.echo(f"{m.manufacturer} {m.meter_id}  driver={m.driver or '-'}  key={'yes' if m.key_hex else 'no'}"
                       f"  name={m.name or '-'} ({m.file})")
        typer.echo(f"imported {report.meters} meters from {folder}, {report.keys_added} new keys "
                   "(wmbusmeters names are not stored)")

    @meters.command("list")
    def list_cmd(limit: int = typer.Option(100, min=1)) -> None:
        """Print registered meters."""
        import psycopg

        from storage.queries import list_meters

        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            for m in list_meters(conn, limit=limit):
                typer.echo(f"{m.manufacturer} {m.meter_id}  sp={m.service_point_id}  "
                           f"legal_until={m.legal_valid_until}  last={m.last_reading_at}")
