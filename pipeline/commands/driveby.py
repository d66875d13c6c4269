"""``odczyt driveby``: the drive-by crew tool — run a route live, sync to MQTT, write the report."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from collectors.driveby_store import DrivebyStore
from collectors.mqtt import MqttTarget
from core.errors import ConfigError, OdczytError, UserError
from core.settings import Settings
from pipeline.cli_params import require_device, require_reachable

if TYPE_CHECKING:  # the rest is imported where used: the CLI starts faster for every other command
    from collectors.driveby import DrivebySession


def _view(session: DrivebySession, bar: Progress, task: TaskID) -> Group:
    p = session.progress
    bar.update(task, completed=len(p.read))
    table = Table(title=f"read {len(p.read)} · unread {p.unread} · off-route {len(p.strangers)} · "
                        f"frames {p.frames}", expand=True)
    for col in ("meter", "mfr", "RSSI dBm", "m³", "route"):
        table.add_column(col)
    for h in p.last:
        table.add_row(h.meter_id, h.manufacturer, f"{h.rssi_dbm:.0f}" if h.rssi_dbm is not None else "–",
                      f"{h.total_m3:.3f}" if h.total_m3 is not None else "–",
                      "[green]yes[/]" if h.on_route else "[yellow]no[/]")
    return Group(bar, table)


def _run(route_file: Path, store_path: Path, receiver: str, port: str, link_mode: str, gps_port: str | None,
         source: str, report_dir: Path) -> None:
    from collectors.driveby import DrivebySession
    from collectors.report import write_report
    from collectors.route import load_route
    from hardware import open_receiver
    from hardware.nmea import GpsReader

    require_device("--port", port)
    require_device("--gps-port", gps_port)
    route = load_route(route_file)
    store = DrivebyStore(store_path)
    gps = GpsReader(gps_port).start() if gps_port else None
    rx = open_receiver(receiver, port, link_mode=link_mode, source=source)
    session = DrivebySession(route, store, gps=gps.tracker if gps else None)
    stop = threading.Event()
    worker = threading.Thread(target=session.run, args=(rx, stop), daemon=True)
    bar = Progress(TextColumn("[bold]route {task.description}"), BarColumn(), MofNCompleteColumn())
    task = bar.add_task(route.route_id, total=len(route.meters))
    worker.start()
    try:
        with Live(_view(session, bar, task), refresh_per_second=4, console=Console()) as live:
            while worker.is_alive():
                worker.join(0.25)
                live.update(_view(session, bar, task))
    except KeyboardInterrupt:
        stop.set()
        worker.join(5)
    finally:
        rx.stop()
        if gps:
            gps.stop()
    paths = write_report(store, report_dir)
    store.close()
    typer.echo(f"read {paths.read}, unread {paths.unread}, off-route {paths.off_route}: {paths.csv}, {paths.html}")


def _existing_store(path: Path) -> DrivebyStore:
    """Open a session store that must already exist (``sync`` and ``report`` never start an empty one)."""
    if not path.is_file():
        raise UserError(f"no drive-by session store at {path}: give the --store of a 'odczyt driveby run'")
    return DrivebyStore(path)


def _mqtt_target(settings: Settings, mqtt_url: str | None) -> MqttTarget:
    url = mqtt_url or settings.mqtt_url
    if not url:
        raise ConfigError("no broker: pass --mqtt-url or set ODCZYT_MQTT_URL (mqtt://host:1883 or mqtts://…)")
    source = "--mqtt-url" if mqtt_url else "ODCZYT_MQTT_URL"
    try:
        if url.split("://", 1)[0] not in ("mqtt", "mqtts", "tcp", "ssl", "tls") or "://" not in url:
            raise ValueError("scheme")
        target = MqttTarget.from_url(url, settings.mqtt)
    except (ValueError, OdczytError) as exc:  # the URL itself is not echoed: it may hold a password
        raise ConfigError(f"{source} is not a broker URL ({exc}): give mqtt://host:1883 or mqtts://host:8883") \
            from None
    require_reachable(target.host, target.port, what="the MQTT broker",
                      setting=source)
    return target


def register(app: typer.Typer) -> None:
    """Add the ``driveby`` command group."""
    group = typer.Typer(help="Drive-by reading: run a route, sync, report.", no_args_is_help=True)

    @group.command("run")
    def run(route: Path = typer.Option(..., help="route CSV/JSON (meter_id,address,lat,lon[,key])"),
            store: Path = typer.Option(Path("var/driveby/session.sqlite"), help="local session store"),
            receiver: str = typer.Option("im871a"), port: str = typer.Option(...),
            link_mode: str = typer.Option("C1T1"), gps_port: str = typer.Option(None),
            source: str = typer.Option("van-1", help="this van's name (frames' source)"),
            report_dir: Path = typer.Option(Path("var/driveby/report"))) -> None:
        """Read the route live (Ctrl-C ends early); everything is stored locally first."""
        _run(route, store, receiver, port, link_mode, gps_port, source, report_dir)

    @group.command("sync")
    def sync_cmd(store: Path = typer.Option(Path("var/driveby/session.sqlite")),
                 mqtt_url: str = typer.Option(None), gateway_id: str = typer.Option("van-1"),
                 timeout_s: float = typer.Option(120.0)) -> None:
        """Upload frames the broker has not acknowledged yet (safe to re-run)."""
        from collectors.driveby import sync

        settings = Settings()
        db = _existing_store(store)
        target = _mqtt_target(settings, mqtt_url)
        try:
            result = sync(db, target, gateway_id, timeout_s=timeout_s, topic_prefix=settings.mqtt.topic_prefix)
        finally:
            db.close()
        typer.echo(f"sent {result.sent}, already acknowledged {result.already}, remaining {result.remaining}")
        if result.remaining:
            raise typer.Exit(1)

    @group.command("report")
    def report(store: Path = typer.Option(Path("var/driveby/session.sqlite")),
               out: Path = typer.Option(Path("var/driveby/report"))) -> None:
        """Write the CSV and HTML (SVG map) report of a session."""
        from collectors.report import write_report

        db = _existing_store(store)
        try:
            paths = write_report(db, out)
        finally:
            db.close()
        typer.echo(f"read {paths.read}, unread {paths.unread}, off-route {paths.off_route}: {paths.html}")

    app.add_typer(group, name="driveby")
