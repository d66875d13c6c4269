"""``odczyt demo``: the whole chain on one machine, with a simulated town.

simulated meters → iM871A simulator on a pty → hardware driver (pyserial) → gateway (spool, MQTT QoS 1)
→ Mosquitto → ingest worker (decode, dedupe, COPY) → PostgreSQL → analysis → API.

A second gateway re-hears part of the town (cross-gateway duplicates), one meter is not in the registry
(its frames wait for a key) and one poison message is published (a dead letter), so the summary shows the
pipeline doing its real work. Time is simulated: each frame is stamped with the moment its meter sent it.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import logging
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collectors.gateway import Gateway
from core.settings import Settings
from core.types import RawFrame
from hardware import open_receiver
from hardware.dll import strip_crcs
from hardware.sim.im871a import Im871aSimulator
from pipeline.embedded import EmbeddedMosquitto, EmbeddedPostgres
from pipeline.ingest import IngestWorker
from pipeline.registry_import import import_meters_csv
from pipeline.town import WARSAW, Town, Transmission
from storage.migrate import migrate

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo did, for the summary and for tests."""

    frames_heard: int = 0
    frames_published: int = 0
    readings_stored: int = 0
    readings_expected: int = 0
    duplicates_dropped: int = 0
    frames_awaiting_key: int = 0
    dead_letters: int = 0
    billing_cutoff: datetime | None = None
    billing_meters: int = 0
    billing_actual: int = 0
    consumption_m3: float = 0.0
    alerts: dict[str, int] | None = None
    db_url: str = ""


class SimClock:
    """Hands each frame the simulated time its meter sent it: FIFO, because a pty keeps order."""

    def __init__(self) -> None:
        self._times: collections.deque[datetime] = collections.deque()

    def push(self, at: datetime) -> None:
        self._times.append(at)

    def restamp(self, frame: RawFrame) -> RawFrame:
        at = self._times.popleft() if self._times else datetime.now(UTC)
        return replace(frame, received_at=at)


@contextlib.contextmanager
def _services(settings: Settings, console: Console) -> Iterator[tuple[str, str]]:
    """The configured database and broker, or embedded throwaway ones stopped on exit."""
    with contextlib.ExitStack() as stack:
        db_url = settings.database_url.get_secret_value() if settings.database_url else None
        mqtt_url = settings.mqtt_url
        if db_url is None or mqtt_url is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="odczyt-demo-")))
            if db_url is None:
                pg = stack.enter_context(EmbeddedPostgres(base))
                console.print(f"[dim]embedded PostgreSQL on 127.0.0.1:{pg.port} ({pg.bindir})[/]")
                with psycopg.connect(pg.url, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE odczyt")
                db_url = pg.url_for("odczyt")
            if mqtt_url is None:
                mq = stack.enter_context(EmbeddedMosquitto(base))
                console.print(f"[dim]embedded Mosquitto on 127.0.0.1:{mq.port}[/]")
                mqtt_url = mq.url
        yield db_url, mqtt_url


def _write_registry(town: Town, path: Path) -> None:
    rows = town.registry_csv_rows()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _publish_poison(mqtt_url: str, topic: str) -> None:
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-poison-{secrets.token_hex(3)}")
    client.connect(host, int(port))
    client.loop_start()
    client.publish(topic, b"\x00this is not a frame message", qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def _wait(cond: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"demo: {what} did not happen within {timeout_s:.0f} s")


def _stranger_transmissions(start: datetime) -> list[Transmission]:
    """Three telegrams from a meter the registry does not know: stored, counted, decodable later."""
    lone = Town(1, seed=99, faults=False)
    lone.meters[0] = replace(lone.meters[0], meter_id="99000001")
    return list(lone.transmissions(start, 1, every_minutes=480))


def _transmit(txs: list[Transmission], sim: Im871aSimulator, clock: SimClock, gw2: Gateway,
              console: Console) -> None:
    """Send every telegram through the simulated receiver; every 5th is heard by the second gateway too."""
    columns = (TextColumn("[bold]radio[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("frames", total=len(txs))
        for i, tx in enumerate(txs):
            rssi = -60.0 - (int(tx.meter.meter_id[-2:]) % 40)
            clock.push(tx.at)
            sim.transmit(tx.frame, rssi_dbm=rssi)
            if i % 5 == 0:
                gw2.submit(RawFrame(payload=strip_crcs(tx.frame), received_at=tx.at + timedelta(milliseconds=800),
                                    source=gw2.gateway_id, rssi_dbm=rssi - 9.0))
            if i % 200 == 0:
                progress.update(task, completed=i)
        progress.update(task, completed=len(txs))


def _count(db_url: str, sql: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def run_demo(settings: Settings, *, meters: int = 200, days: int = 7, seed: int = 7, serve: bool = True,
             host: str = "127.0.0.1", port: int = 8080, console: Console | None = None,
             end: datetime | None = None) -> DemoResult:
    """Run the whole chain once (and keep the API up if ``serve``); returns what happened.

    The simulated period ends at ``end`` (default: the last local midnight in Warsaw).
    """
    console = console or Console()
    if end is None:
        end = datetime.now(UTC).astimezone(WARSAW).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    town = Town(meters, seed=seed)
    txs = list(town.transmissions(start, days))
    strangers = _stranger_transmissions(start)
    everything = sorted(txs + strangers, key=lambda t: t.at)
    console.print(f"[bold]odczyt demo[/]: {meters} meters × {days} days = {len(txs):,} telegrams "
                  f"({start:%Y-%m-%d} → {end:%Y-%m-%d} UTC), mode 5, one key per meter")
    master_key = (settings.master_key.get_secret_value() if settings.master_key else secrets.token_hex(32))
    result = DemoResult(readings_expected=len(txs))
    with _services(settings, console) as (db_url, mqtt_url), tempfile.TemporaryDirectory() as spool_dir:
        result.db_url = db_url
        applied = migrate(db_url)
        console.print(f"database migrated ({len(applied)} migrations)")
        registry_csv = Path(spool_dir) / "meters.csv"
        _write_registry(town, registry_csv)
        report = import_meters_csv(db_url, registry_csv, master_key=bytes.fromhex(master_key))
        console.print(f"registry: {report}")
        worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_url, settings=settings.ingest,
                              master_key=bytes.fromhex(master_key), client_id="odczyt-demo-ingest")
        worker.start()
        if not worker.wait_connected(30):
            raise TimeoutError("demo: the ingest worker did not connect to the broker")
        clock, sim = SimClock(), Im871aSimulator().start()
        gw1 = Gateway("gw-demo-1", mqtt_url, Path(spool_dir) / "gw1.sqlite", batch_frames=200, batch_ms=200,
                      spool_synchronous="NORMAL")
        gw2 = Gateway("gw-demo-2", mqtt_url, Path(spool_dir) / "gw2.sqlite", batch_frames=200, batch_ms=200,
                      spool_synchronous="NORMAL")
        rx = open_receiver("im871a", sim.port, link_mode="T1", source=gw1.gateway_id,
                           on_frame=lambda f: gw1.submit(clock.restamp(f)))
        try:
            gw1.start()
            gw2.start()
            if not rx.wait_ready(15):
                raise TimeoutError("demo: the simulated iM871A did not initialise")
            console.print(f"receiver: iM871A simulator on {sim.port}, link mode T1")
            _transmit(everything, sim, clock, gw2, console)
            _wait(lambda: gw1.stats.received >= len(everything), 120, "the receiver delivering every frame")
            _publish_poison(mqtt_url, "odczyt/v1/frames/gw-demo-1")
            for gw in (gw1, gw2):
                if not gw.wait_drained(300):
                    raise TimeoutError(f"demo: {gw.gateway_id} did not drain its spool")
            console.print("gateways drained: every frame acknowledged by the broker")
            _wait(lambda: _count(db_url, "SELECT count(*) FROM readings") >= len(txs)
                  and _count(db_url, "SELECT count(*) FROM raw_frames WHERE status <> 0") >= len(strangers)
                  and _count(db_url, "SELECT count(*) FROM dead_letters") >= 1, 300, "ingest committing every frame")
        finally:
            rx.stop()
            for gw in (gw1, gw2):
                gw.stop()
            sim.close()
            worker.stop()
        result.frames_heard = gw1.stats.received + gw2.stats.received
        result.frames_published = gw1.stats.published + gw2.stats.published
        _summarise(result, db_url, end, start, console)
        if serve:
            _serve(db_url, host, port, console)
    return result


def _summarise(result: DemoResult, db_url: str, end: datetime, start: datetime, console: Console) -> None:
    from storage.queries import billing_readings

    with psycopg.connect(db_url) as conn:
        result.readings_stored = int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])  # type: ignore[index]
        dup = conn.execute("SELECT coalesce(sum(cardinality(gateways) - 1), 0) FROM raw_frames").fetchone()
        result.duplicates_dropped = int(dup[0]) if dup else 0
        result.frames_awaiting_key = int(
            conn.execute("SELECT count(*) FROM raw_frames WHERE status <> 0").fetchone()[0])  # type: ignore[index]
        result.dead_letters = int(
            conn.execute("SELECT coalesce(sum(count), 0) FROM dead_letters").fetchone()[0])  # type: ignore[index]
        cutoff = end - timedelta(seconds=1)
        closing = {b.meter_key: b for b in billing_readings(conn, at=cutoff)}
        opening = {b.meter_key: b for b in billing_readings(conn, at=start + timedelta(hours=1))}
    result.billing_cutoff = cutoff
    result.billing_meters = len(closing)
    result.billing_actual = sum(1 for b in closing.values() if b.actual is True)
    result.consumption_m3 = round(sum(
        (b.total_m3 or 0.0) - (opening[k].total_m3 or 0.0) for k, b in closing.items() if k in opening), 3)
    result.alerts = _analyse(db_url, end, console)
    _print_summary(result, console)


def _analyse(db_url: str, end: datetime, console: Console) -> dict[str, int] | None:
    try:
        from pipeline.analyze import run_analysis
    except ImportError:
        console.print("[yellow]analysis: not available in this build[/]")
        return None
    report = run_analysis(db_url, now=end)
    return dict(report.raised_by_kind())


def _print_summary(r: DemoResult, console: Console) -> None:
    console.rule("[bold]summary")
    lines = [
        ("frames heard (2 gateways)", f"{r.frames_heard:,}"),
        ("frames acknowledged by the broker", f"{r.frames_published:,}"),
        ("readings stored", f"{r.readings_stored:,} (expected {r.readings_expected:,})"),
        ("cross-gateway duplicates dropped", f"{r.duplicates_dropped:,}"),
        ("frames kept awaiting a key", f"{r.frames_awaiting_key:,}"),
        ("dead letters (poison messages)", f"{r.dead_letters:,}"),
        ("billing cut-off", f"{r.billing_cutoff:%Y-%m-%d %H:%M:%S} UTC" if r.billing_cutoff else "–"),
        ("meters billed (actual readings)", f"{r.billing_meters:,} ({r.billing_actual:,} actual)"),
        ("billing total (consumption in period)", f"{r.consumption_m3:,.3f} m³"),
    ]
    if r.alerts is not None:
        lines.append(("alerts raised", ", ".join(f"{k}: {v}" for k, v in sorted(r.alerts.items())) or "none"))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        console.print(f"  {key:<{width}}  {value}")


def _serve(db_url: str, host: str, port: int, console: Console) -> None:
    import uvicorn

    from api.app import create_app
    from api.auth_admin import add_user, issue_api_key
    from core.settings import ApiSettings

    stamp = f"{datetime.now(UTC):%Y%m%d%H%M%S}"  # unique names: an external database may keep earlier runs' ones
    password = secrets.token_urlsafe(12)
    with psycopg.connect(db_url, autocommit=True) as conn:
        key, _ = issue_api_key(conn, name=f"demo-admin-{stamp}", role="admin", actor="cli:demo")
        add_user(conn, name=f"demo-{stamp}", role="admin", password=password, actor="cli:demo")
    console.print(f"\nAPI serving the demo data at [bold]http://{host}:{port}/[/] "
                  f"(docs: http://{host}:{port}/docs) — Ctrl-C stops it and removes the demo data")
    console.print(f"dashboard login at http://{host}:{port}/login: user [bold]demo-{stamp}[/], "
                  f"password [bold]{password}[/]", soft_wrap=True)  # never wrapped: copied by hand
    console.print(f"admin API key of this run: [bold]{key}[/]\n"
                  f"  e.g. curl -H 'Authorization: Bearer {key}' http://{host}:{port}/v1/dashboard/summary",
                  soft_wrap=True)
    uvicorn.run(create_app(db_url, api=ApiSettings(cookie_secure=False)), host=host, port=port, log_level="warning")


__all__ = ["DemoResult", "SimClock", "run_demo"]

