"""``odczyt ingest``: run one ingest worker as a service, with Prometheus metrics on a port.

When ``ingest.analyze_every_s`` (or ``--analyze-every``) is above zero the service also schedules the
analysis (``pipeline.analyze.AnalysisScheduler``) in a thread of its own and stops it on exit (default every
900 s). With ``ingest.watch_gateways`` (default on) it also reads the gateways' status topic into the gateway
registry (``pipeline.gateway_status.GatewayWatcher``).
"""

from __future__ import annotations

import os

import typer

from core.settings import Settings
from pipeline.commands import interrupt_on_termination
from pipeline.commands.db import database_url, master_key_bytes


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command."""

    @app.command()
    def ingest(metrics_port: int = typer.Option(9108, help="Port of the Prometheus /metrics endpoint (0 = off)."),
               client_id: str = typer.Option(None, help="MQTT client id (default: ingest.client_id setting)."),
               migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first."),
               analyze_every: float = typer.Option(None, "--analyze-every", min=0,
                                                   help="Seconds between analysis runs (0 = none; default: "
                                                        "ingest.analyze_every_s setting)."),
               decode_processes: int = typer.Option(None, min=0, help="Processes that decode frames for the "
                                                                     "worker (0 = decode in the worker's batch "
                                                                     "thread; default 1 on a multi-core machine)."),
               leave: bool = typer.Option(False, "--leave", help="Retire this client id for good: stop taking a "
                                                                 "share, drain what the broker kept for it, end "
                                                                 "its session, exit."),
               takeover: str = typer.Option(None, "--takeover", metavar="OLD_CLIENT_ID",
                                            help="Drain and end the session of a worker that will not come back "
                                                 "(replaced under a new id): --leave for OLD_CLIENT_ID."),
               register_only: bool = typer.Option(False, "--register", help="Create this worker's durable "
                                                  "session in the shared group on the broker, then exit (install "
                                                  "step: frames published before any worker ran are kept)."),
               metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the /metrics "
                                                "endpoint listens on (0.0.0.0: every interface)."),
               allow_missing_master_key: bool = typer.Option(False, "--allow-missing-master-key",
                                                             help="Start without ODCZYT_MASTER_KEY although the "
                                                                  "registry holds sealed keys (frames stay "
                                                                  "undecoded; warns loudly).")
               ) -> None:
        """Consume frames from MQTT (shared subscription), decode, store; runs until SIGTERM/Ctrl-C."""
        from prometheus_client import start_http_server

        from pipeline.analyze import AnalysisScheduler, configured_channels
        from pipeline.gateway_status import GatewayWatcher
        from pipeline.ingest import IngestWorker
        from storage.migrate import migrate

        settings = Settings()
        if register_only:
            _register(settings, client_id)
            return
        db_url = database_url(settings)
        if settings.mqtt_url is None:
            raise typer.BadParameter("ODCZYT_MQTT_URL is not set")
        if migrate_first:
            migrate(db_url)
        master = master_key_bytes(settings)
        if takeover:
            client_id, leave = takeover, True
        if leave:
            stats = IngestWorker(db_url=db_url, mqtt_url=settings.mqtt_url, settings=settings.ingest,
                                 master_key=master, client_id=client_id, mqtt_settings=settings.mqtt,
                                 leave=True, allow_missing_master_key=allow_missing_master_key).leave_group()
            typer.echo(f"left the shared group: {stats.messages_acked} message(s) drained, "
                       f"{stats.committed_readings} reading(s) committed; session ended")
            return
        if metrics_port:
            start_http_server(metrics_port, addr=metrics_host)
        interval = settings.ingest.analyze_every_s if analyze_every is None else analyze_every
        if decode_processes is None:  # measured: 1 worker ≈ 13 k readings/s alone, ≈ 21 k with a decode process
            decode_processes = 1 if (os.cpu_count() or 1) > 1 else 0
        interrupt_on_termination()
        scheduler = AnalysisScheduler(interval, db_url, settings=settings.analytics, master_key=master,
                                      channels=configured_channels(settings)).start() if interval else None
        # fed by the worker's own connection (one connection per broker account)
        watcher = GatewayWatcher(db_url=db_url, mqtt_url=None, settings=settings.gateways,
                                 mqtt_settings=settings.mqtt).start() if settings.ingest.watch_gateways else None
        try:
            IngestWorker(db_url=db_url, mqtt_url=settings.mqtt_url, settings=settings.ingest, master_key=master,
                         client_id=client_id, mqtt_settings=settings.mqtt, decode_processes=decode_processes,
                         allow_missing_master_key=allow_missing_master_key,
                         status_sink=watcher.feed if watcher is not None else None).run_forever()
        finally:
            if scheduler is not None:
                scheduler.stop()
            if watcher is not None:
                watcher.stop()


def _register(settings: Settings, client_id: str | None) -> None:
    """``odczyt ingest --register``: the worker's durable session in the shared group, created on the broker."""
    from collectors.mqtt import redact_url
    from pipeline.ingest_session import BrokerUnavailableError, register_session

    if settings.mqtt_url is None:
        typer.echo("odczyt ingest: ODCZYT_MQTT_URL is not set (the broker to register with)", err=True)
        raise typer.Exit(2)
    name = client_id or settings.ingest.client_id
    try:
        topic = register_session(mqtt_url=settings.mqtt_url, client_id=name, settings=settings.ingest,
                                 mqtt_settings=settings.mqtt)
    except BrokerUnavailableError as exc:
        typer.echo(f"odczyt ingest: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"registered the durable session of {name!r} on {redact_url(settings.mqtt_url)}: the broker keeps "
               f"{topic} for it until the worker connects")
