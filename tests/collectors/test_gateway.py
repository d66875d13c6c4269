"""Gateway: spool-first, batched QoS 1 publishing to a real Mosquitto, delete on ack, outage survival."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collect_helpers import wait_for

from collectors.gateway import Gateway
from collectors.spool import Spool
from core.types import LinkMode, Position, RawFrame
from hardware import open_receiver
from hardware.sim.frames import synthetic_frame
from hardware.sim.im871a import Im871aSimulator


def raw(i: int, source: str = "gw-t") -> RawFrame:
    return RawFrame(payload=synthetic_frame(20000000 + i, i), received_at=datetime.now(UTC), source=source,
                    rssi_dbm=-70.0, link_mode=LinkMode.T1)


def test_every_submitted_frame_arrives_exactly_once(mqtt_broker, recorder_factory, tmp_path: Path):
    rec = recorder_factory(mqtt_broker.host, mqtt_broker.port)
    frames = [raw(i) for i in range(500)]
    with Gateway("gw-once", mqtt_broker.url, tmp_path / "spool.db", batch_frames=50, batch_ms=20) as gw:
        for f in frames:
            gw.submit(f)
        assert gw.wait_drained(20)
        wait_for(lambda: rec.count() >= len(frames), what="all frames received")
    assert sorted(rec.frames) == sorted(f.payload for f in frames)
    assert rec.messages <= len(frames) // 50 + 5  # batched, not one message per frame
    assert Spool(tmp_path / "spool.db").depth == 0


def test_repeats_within_the_window_are_suppressed(mqtt_broker, recorder_factory, tmp_path: Path):
    rec = recorder_factory(mqtt_broker.host, mqtt_broker.port)
    with Gateway("gw-dup", mqtt_broker.url, tmp_path / "s.db", batch_ms=10, dedupe_window_s=60) as gw:
        for _ in range(3):
            gw.submit(raw(1))
        gw.submit(raw(1, source="other-rx"))  # same bytes, another receiver: kept
        gw.submit(raw(2))
        assert gw.wait_drained(10)
        wait_for(lambda: rec.count() >= 3)
        assert gw.stats.duplicates == 2
    assert len(rec.frames) == 3


def test_position_and_metadata_survive_spool_and_wire(mqtt_broker, tmp_path: Path):
    spool = Spool(tmp_path / "p.db")
    frame = RawFrame(payload=b"\x0b" + bytes(11), received_at=datetime.now(UTC), source="van",
                     rssi_dbm=-88.5, link_mode=LinkMode.C1,
                     position=Position(50.06, 19.94, fix_at=datetime.now(UTC), hdop=0.9))
    spool.append([frame])
    ((seq, back),) = spool.fetch(0, 10)
    assert back == frame and seq == 1


def test_receiver_to_broker_over_pty(mqtt_broker, recorder_factory, tmp_path: Path):
    rec = recorder_factory(mqtt_broker.host, mqtt_broker.port)
    with Im871aSimulator() as sim:
        rx = open_receiver("im871a", sim.port, link_mode="C1", source="gw-pty")
        assert rx.wait_ready(5)
        with Gateway("gw-pty", mqtt_broker.url, tmp_path / "s.db", receivers=[rx], batch_ms=10) as gw:
            for i in range(30):
                sim.transmit(synthetic_frame(30000000 + i, i))
            wait_for(lambda: rec.count() >= 30, what="frames from the pty receiver")
            assert gw.wait_drained(10)
    assert sorted(rec.frames) == sorted(synthetic_frame(30000000 + i, i) for i in range(30))


def test_broker_outage_mid_stream_loses_nothing(private_broker, recorder_factory, tmp_path: Path):
    rec = recorder_factory("127.0.0.1", private_broker.port)
    gw = Gateway("gw-out", private_broker.url, tmp_path / "s.db", batch_frames=20, batch_ms=10,
                 heartbeat_s=0.5).start()
    try:
        for i in range(200):
            gw.submit(raw(i))
        wait_for(lambda: rec.count() >= 50, what="first frames before the outage")
        private_broker.stop()
        wait_for(lambda: not gw.stats.connected, what="gateway notices the outage")
        for i in range(200, 600):
            gw.submit(raw(i))
        wait_for(lambda: gw.stats.spooled == 600, what="frames spooled during the outage")
        private_broker.start()
        assert gw.wait_drained(30)
        wait_for(lambda: len(set(rec.frames)) >= 600, timeout_s=30, what="every frame after the outage")
    finally:
        gw.stop()
    assert set(rec.frames) == {raw(i).payload for i in range(600)}


def test_full_spool_drops_oldest_and_says_so(tmp_path: Path, caplog):
    spool = Spool(tmp_path / "full.db", max_frames=1000)
    spool.append([raw(i) for i in range(900)])
    dropped = spool.append([raw(i) for i in range(900, 1200)])
    assert dropped == 200 and spool.depth == 1000
    first_seq, first = spool.fetch(0, 1)[0]
    assert first.payload == raw(200).payload and first_seq == 201


def test_heartbeat_reports_health_and_clean_stop_says_offline(mqtt_broker, recorder_factory, tmp_path: Path):
    rec = recorder_factory(mqtt_broker.host, mqtt_broker.port)
    with Gateway("gw-hb", mqtt_broker.url, tmp_path / "s.db", heartbeat_s=0.2) as gw:
        gw.submit(raw(1))
        wait_for(lambda: any(s.get("state") == "online" and s["spool"]["depth"] == 0 and
                             s["frames"]["published"] == 1 for s in list(rec.status)), what="heartbeat")
    wait_for(lambda: rec.status and rec.status[-1].get("state") == "offline", what="offline status")
    assert rec.status[-1]["reason"] == "stopped"
