"""``odczyt demo``: the end-to-end chain on embedded defaults (see pipeline/demo.py)."""

from __future__ import annotations

import typer

from core.settings import Settings
from pipeline.commands import interrupt_on_termination


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""

    @app.command()
    def demo(
        meters: int = typer.Option(200, min=1, max=20000, help="Simulated meters."),
        days: int = typer.Option(7, min=1, max=366, help="Days of hourly telegrams."),
        seed: int = typer.Option(7, help="Random seed of the simulated town."),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep the API up after the summary."),
        host: str = typer.Option("127.0.0.1", help="API host."),
        port: int = typer.Option(8080, help="API port."),
    ) -> None:
        """Simulate a town of radio meters and run it through receiver, MQTT, ingest, PostgreSQL and API."""
        from pipeline.demo import run_demo

        interrupt_on_termination()  # a service manager's or `timeout`'s SIGTERM stops the embedded services too
        result = run_demo(Settings(), meters=meters, days=days, seed=seed, serve=serve, host=host, port=port)
        if result.readings_stored != result.readings_expected:
            raise typer.Exit(code=1)
