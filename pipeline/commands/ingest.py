"""``odczyt ingest``: run one ingest worker as a service, with Prometheus metrics on a port."""

from __future__ import annotations

import signal

import typer

from core.settings import Settings
from pipeline.commands.db import database_url


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command."""

    @app.command()
    def ingest(metrics_port: int = typer.Option(9108, help="Port of the Prometheus /metrics endpoint (0 = off)."),
               client_id: str = typer.Option(None, help="MQTT client id (default: ingest.client_id setting)."),
               migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first.")
               ) -> None:
        """Consume frames from MQTT (shared subscription), decode, store; runs until SIGTERM/Ctrl-C."""
        from prometheus_client import start_http_server

        from pipeline.ingest import IngestWorker
        from storage.migrate import migrate

        settings = Settings()
        db_url = database_url(settings)
        if settings.mqtt_url is None:
            raise typer.BadParameter("ODCZYT_MQTT_URL is not set")
        if migrate_first:
            migrate(db_url)
        if metrics_port:
            start_http_server(metrics_port)
        master = bytes.fromhex(settings.master_key.get_secret_value()) if settings.master_key else None
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        IngestWorker(db_url=db_url, mqtt_url=settings.mqtt_url, settings=settings.ingest, master_key=master,
                     client_id=client_id, mqtt_settings=settings.mqtt).run_forever()
