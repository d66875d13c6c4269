"""``odczyt serve``: the HTTP API under uvicorn (``api.asgi:app``), configured from ``Settings.api``.

Each of ``--workers N`` processes imports ``api.asgi:app`` and builds its app from the same environment
(``ODCZYT_DATABASE_URL``, ``ODCZYT_API__*``, ``ODCZYT_ENV_FILE``). SIGTERM or Ctrl-C stops accepting
connections and lets requests in flight finish for up to ``api.graceful_shutdown_s`` seconds.
"""

from __future__ import annotations

from typing import Literal

import typer

from core.settings import Settings
from pipeline.commands.db import database_url


def serve_options(settings: Settings, host: str | None, port: int | None, workers: int | None) -> dict[str, object]:
    """The uvicorn options for these settings and command-line overrides."""
    api = settings.api
    return {
        "host": host or api.host,
        "port": api.port if port is None else port,
        "workers": workers or api.workers,
        "access_log": api.access_log,
        "timeout_graceful_shutdown": api.graceful_shutdown_s,
        # X-Forwarded-For is believed only from the configured reverse proxies, never from any client
        "proxy_headers": api.forwarded_allow_ips is not None,
        "forwarded_allow_ips": api.forwarded_allow_ips or "",
        "server_header": False,
    }


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command()
    def serve(
        host: str = typer.Option(None, help="Address to listen on (default ODCZYT_API__HOST, 127.0.0.1)."),
        port: int = typer.Option(None, min=0, max=65535, help="Port (default ODCZYT_API__PORT, 8080)."),
        workers: int = typer.Option(None, min=1, max=64, help="Worker processes (default ODCZYT_API__WORKERS, 1)."),
        log_level: Literal["critical", "error", "warning", "info", "debug"] = typer.Option(
            "info", help="uvicorn log level (info logs every request: the access log)."),
    ) -> None:
        """Serve the HTTP API (authenticated; /healthz and /readyz are open) until SIGTERM or Ctrl-C."""
        import uvicorn

        settings = Settings()
        database_url(settings)  # a missing ODCZYT_DATABASE_URL is reported here, not in each worker
        options = serve_options(settings, host, port, workers)
        typer.echo(f"odczyt API on http://{options['host']}:{options['port']}/ "
                   f"({options['workers']} worker(s); docs at /docs)", err=True)
        uvicorn.run("api.asgi:app", log_level=log_level, **options)  # type: ignore[arg-type]
