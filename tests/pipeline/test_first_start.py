"""No frame lost at first start: ``odczyt ingest --register`` creates the ingest group's durable session before
any worker ran, so frames a gateway publishes (and removes from its spool once the broker acknowledged them)
are kept by the broker until the first worker connects.

The production incident in issue 11 had the worker start 60 s after the gateway; here the worker starts a
few seconds later. The delay does not matter — what matters is that no worker ever connected before.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from ingest_helpers import MASTER, T0, count, register_meters, telegram, wait_for
from typer.testing import CliRunner

from collectors.gateway import Gateway
from core.settings import IngestSettings
from core.types import LinkMode, RawFrame
from pipeline.cli import app
from pipeline.embedded import EmbeddedMosquitto, free_port
from pipeline.ingest import IngestWorker

WORKER = "odczyt-ingest-first"
DELAY_S = 3.0  # the production test: 60 s


def _register(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ingest", "--register", "--client-id", WORKER],
                                env={"ODCZYT_MQTT_URL": url})
    return result.exit_code, result.stdout + result.stderr


def _gateway_publishes(broker: EmbeddedMosquitto, tmp: Path, ids: list[str], rounds: range) -> int:
    """Frames through the real collector (spool → MQTT QoS 1) until the broker acknowledged every one."""
    frames = [RawFrame(payload=telegram(mid, r), received_at=T0 + timedelta(seconds=16 * r, milliseconds=i),
                       source="gw-first", rssi_dbm=-75.0, link_mode=LinkMode.T1)
              for r in rounds for i, mid in enumerate(ids)]
    with Gateway("gw-first", broker.url, tmp / "spool.db", batch_frames=10, batch_ms=20) as gw:
        for f in frames:
            gw.submit(f)
        assert gw.wait_drained(20), "the broker did not acknowledge every frame"
        assert gw.stats.spool_depth == 0  # the gateway no longer holds them: only the broker can
    return len(frames)


def _worker(db_url: str, url: str) -> IngestWorker:
    return IngestWorker(db_url=db_url, mqtt_url=url, settings=IngestSettings(batch_ms=50), master_key=MASTER,
                        client_id=WORKER, maintenance_every_s=3600)


def test_frames_published_before_the_first_worker_are_all_stored_after_register(
        db_url: str, private_broker: EmbeddedMosquitto, tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 5)
    for _ in range(2):  # idempotent: an install script may run it on every deployment
        code, out = _register(private_broker.url)
        assert code == 0 and "registered the durable session" in out, out
    published = _gateway_publishes(private_broker, tmp_path, ids, range(0, 6))
    time.sleep(DELAY_S)
    assert count(db_url) == 0
    worker = _worker(db_url, private_broker.url).start()
    try:
        wait_for(lambda: count(db_url) == published == 30, timeout=30, what="every frame stored")
    finally:
        worker.stop()


def test_without_register_frames_before_the_first_worker_are_lost(
        db_url: str, private_broker: EmbeddedMosquitto, tmp_path: Path) -> None:
    """Why the install runs ``--register``: a shared subscription nobody has made yet keeps nothing; the broker
    acknowledges the gateway's frames and drops them."""
    ids = register_meters(db_url, tmp_path, 5)
    _gateway_publishes(private_broker, tmp_path, ids, range(0, 2))
    time.sleep(1.0)
    worker = _worker(db_url, private_broker.url).start()
    try:
        assert worker.wait_connected(20)
        time.sleep(2.0)
        assert count(db_url) == 0, "frames published before any session existed were expected to be lost"
        deadline = time.monotonic() + 30
        while count(db_url) < 5 and time.monotonic() < deadline:  # once the session exists they are kept;
            _gateway_publishes(private_broker, tmp_path, ids, range(2, 3))  # again (as the repo's service test
            time.sleep(2.0)  # does): Mosquitto 2.0.11 was seen holding a message back until the next one
        assert count(db_url) == 5, "the frames published after the worker came were not stored"
    finally:
        worker.stop()


def test_register_with_no_broker_is_one_line_and_exit_2() -> None:
    code, out = _register(f"mqtt://user:hunter2-secret@127.0.0.1:{free_port()}")
    assert code == 2
    assert out.strip().count("\n") == 0 and "cannot reach the broker" in out
    assert "hunter2" not in out and "user:***@" in out


def test_a_gateway_holding_unrouted_frames_keeps_them_until_a_worker_subscribed(
        db_url: str, private_broker: EmbeddedMosquitto, tmp_path: Path) -> None:
    """The gateway side of the same safety (``collector.hold_unrouted``): a PUBACK saying "no matching
    subscribers" is not taken as delivered; the frames stay in the spool and are sent again until a session
    of the ingest group exists — here a worker that was never registered."""
    ids = register_meters(db_url, tmp_path, 5)
    frames = [RawFrame(payload=telegram(mid, r), received_at=T0 + timedelta(seconds=16 * r, milliseconds=i),
                       source="gw-hold", rssi_dbm=-75.0, link_mode=LinkMode.T1)
              for r in range(4) for i, mid in enumerate(ids)]
    with Gateway("gw-hold", private_broker.url, tmp_path / "spool.db", batch_frames=10, batch_ms=20,
                 hold_unrouted=True, hold_s=0.5) as gw:
        for f in frames:
            gw.submit(f)
        assert not gw.wait_drained(2.0)
        assert gw.stats.spool_depth == 20 and gw.stats.published == 0
        worker = _worker(db_url, private_broker.url).start()
        try:
            assert worker.wait_connected(20)
            assert gw.wait_drained(20)
            wait_for(lambda: count(db_url) == 20, timeout=30, what="every held frame stored")
        finally:
            worker.stop()
