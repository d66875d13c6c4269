"""Gateway to a broker that demands TLS and a password: frames arrive; a client without them is refused."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as paho
from collect_helpers import wait_for
from paho.mqtt.enums import CallbackAPIVersion

from collectors.gateway import Gateway
from collectors.mqtt import MqttTarget
from core.settings import MqttSettings
from core.types import LinkMode, RawFrame
from core.wire import decode_frames
from hardware.sim.frames import synthetic_frame
from pipeline.embedded import EmbeddedMosquitto
from tests.pki import write_pki


def _secure_broker(tmp_path: Path) -> tuple[EmbeddedMosquitto, Path]:
    ca, cert, key = write_pki(tmp_path)
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "gw", "s3cret"], check=True,
                   capture_output=True)
    conf = (f"cafile {ca}", f"certfile {cert}", f"keyfile {key}", "allow_anonymous false",
            f"password_file {passwords}")
    return EmbeddedMosquitto(tmp_path, extra_conf=conf).start(), ca


def _subscriber(port: int, ca: Path, received: list[bytes], ready: threading.Event) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-sub")
    client.username_pw_set("gw", "s3cret")
    client.tls_set(ca_certs=str(ca))
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("odczyt/v1/frames/#", qos=1)
    client.on_subscribe = lambda c, u, mid, rcs, p: ready.set()
    client.on_message = lambda c, u, msg: received.extend(f.payload for f in decode_frames(msg.payload)[1])
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_gateway_publishes_over_tls_with_a_password(tmp_path: Path) -> None:
    broker, ca = _secure_broker(tmp_path)
    received: list[bytes] = []
    ready = threading.Event()
    sub = _subscriber(broker.port, ca, received, ready)
    try:
        assert ready.wait(10), "TLS subscriber could not subscribe"
        target = MqttTarget.from_url(f"mqtts://gw:s3cret@127.0.0.1:{broker.port}", MqttSettings(ca_file=ca))
        frames = [RawFrame(payload=synthetic_frame(30000000 + i, i), received_at=dt.datetime.now(dt.UTC),
                           source="gw-tls", rssi_dbm=-71.0, link_mode=LinkMode.T1) for i in range(50)]
        with Gateway("gw-tls", target, tmp_path / "spool.db", batch_frames=10, batch_ms=20) as gw:
            for f in frames:
                gw.submit(f)
            assert gw.wait_drained(20)
        wait_for(lambda: len(received) >= len(frames), what="frames over TLS")
        assert sorted(received) == sorted(f.payload for f in frames)
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.stop()


def test_broker_refuses_clients_without_tls_or_password(tmp_path: Path) -> None:
    broker, ca = _secure_broker(tmp_path)
    try:
        plain = paho.Client(CallbackAPIVersion.VERSION2, client_id="plain")
        refused = False
        try:
            plain.connect("127.0.0.1", broker.port)
            plain.loop(timeout=2.0)
            refused = not plain.is_connected()
        except OSError:
            refused = True
        assert refused, "a plain-TCP client must not get in"

        wrong = paho.Client(CallbackAPIVersion.VERSION2, client_id="wrong-pass")
        wrong.username_pw_set("gw", "nope")
        wrong.tls_set(ca_certs=str(ca))
        codes: list[object] = []
        wrong.on_connect = lambda c, u, f, rc, p: codes.append(rc)
        wrong.connect("127.0.0.1", broker.port)
        for _ in range(20):
            wrong.loop(timeout=0.2)
            if codes:
                break
        assert codes and getattr(codes[0], "is_failure", False), f"wrong password accepted: {codes}"
        wrong.disconnect()
    finally:
        broker.stop()
