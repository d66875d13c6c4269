"""ESP32 wM-Bus bridges: hex lines over TCP (bridges as clients), TCP connect, UDP and MQTT (the suite's real
Mosquitto), through the receiver loop, with the bridge simulator."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from hardware import open_receiver
from hardware.base import Fault, Heard, Reply
from hardware.dll import add_format_a_crcs, add_format_b_crcs
from hardware.errors import HardwareError
from hardware.esp32_bridge import TcpListenTransport, parse_line
from hardware.sim.esp32_bridge import MqttBridge, TcpBridge, UdpBridge, line
from hardware.sim.frames import OMS_EXAMPLE, synthetic_frame


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("text", [
    OMS_EXAMPLE.hex(), "0x" + OMS_EXAMPLE.hex().upper(), add_format_a_crcs(OMS_EXAMPLE).hex(),
    add_format_b_crcs(OMS_EXAMPLE).hex() + ";-71.5", OMS_EXAMPLE.hex() + ",-71.5",
    '{"telegram": "' + OMS_EXAMPLE.hex() + '", "rssi": -71.5}',
])
def test_line_forms(text: str) -> None:
    event = parse_line(text)
    assert isinstance(event, Heard) and event.frame == OMS_EXAMPLE
    assert event.rssi_dbm in (None, -71.5)


def test_logs_are_replies_and_broken_hex_is_a_fault() -> None:
    assert isinstance(parse_line("[I][wmbus:123]: starting radio"), Reply)
    assert isinstance(parse_line(OMS_EXAMPLE.hex() + "0"), Fault)
    assert isinstance(parse_line(OMS_EXAMPLE.hex()[:-2]), Fault)  # L says one byte more


def test_tcp_listener_assembles_lines_per_connection() -> None:
    transport = TcpListenTransport("127.0.0.1", 0)
    try:
        a, b = TcpBridge(*transport.address), TcpBridge(*transport.address)
        one, two = line(synthetic_frame(11111111, 1), -60), line(synthetic_frame(22222222, 2), -70)
        a.send(one[:10])
        b.send(two[:7])
        data = b""
        deadline = time.monotonic() + 5
        a.send(one[10:])
        b.send(two[7:])
        while data.count(b"\n") < 2 and time.monotonic() < deadline:
            data += transport.read(0.2)
        assert sorted(data.splitlines(keepends=True)) == sorted([one, two])
        a.close()
        b.close()
        transport.read(0.2)
        assert transport.read(0.2) == b""
    finally:
        transport.close()


def test_receiver_over_tcp_udp_and_split_streams() -> None:
    frames = [synthetic_frame(30000000 + i, i) for i in range(6)]
    tcp_port, udp_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    with open_receiver("esp32", f"tcp://127.0.0.1:{tcp_port}", source="esp") as rx, \
            open_receiver("esp32", f"udp://127.0.0.1:{udp_port}", source="esp-udp") as urx:
        deadline = time.monotonic() + 5
        while True:
            try:
                bridge = TcpBridge("127.0.0.1", tcp_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        bridge.send(b"".join(line(f, -50 - i) for i, f in enumerate(frames[:3])), chunk=7)
        got = [rx.get(5) for _ in range(3)]
        assert [g.payload for g in got if g] == frames[:3] and got[2] is not None and got[2].rssi_dbm == -52.0
        udp = UdpBridge("127.0.0.1", udp_port)
        first = None
        while first is None and time.monotonic() < deadline + 10:  # datagrams before the bind are lost
            udp.send(line(add_format_a_crcs(frames[3])).strip())  # no newline, CRCs still in
            first = urx.get(0.3)
        while urx.get(0.3) is not None:
            pass
        for f in frames[4:]:
            udp.send(line(add_format_a_crcs(f)).strip())
        got = [first, urx.get(5), urx.get(5)]
        assert [g.payload for g in got if g] == frames[3:]
        bridge.close()
        udp.close()


def test_receiver_over_tcp_connect() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    frame = synthetic_frame(44444444, 4)
    with open_receiver("esp32", f"tcp-connect://127.0.0.1:{port}", source="esp") as rx:
        server.settimeout(5)
        conn, _ = server.accept()
        conn.sendall(line(frame, -80))
        got = rx.get(5)
        assert got is not None and got.payload == frame and got.rssi_dbm == -80.0
        conn.close()
    server.close()


def test_receiver_over_mqtt(mqtt_broker) -> None:
    topic = f"esp-{uuid.uuid4().hex[:8]}/telegram"
    frame = synthetic_frame(55555555, 5)
    with open_receiver("esp32", f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/{topic.split('/')[0]}/#",
                       source="esp-mqtt") as rx:
        bridge = MqttBridge(mqtt_broker.host, mqtt_broker.port, topic)
        try:
            got = None
            deadline = time.monotonic() + 10
            while got is None and time.monotonic() < deadline:  # until the receiver's subscription is in place
                bridge.send(line(frame, -65, as_json=True))
                got = rx.get(0.5)
            assert got is not None and got.payload == frame and got.rssi_dbm == -65.0
        finally:
            bridge.close()


@pytest.mark.parametrize("port", ["/dev/ttyUSB0", "tcp://127.0.0.1", "http://x:1"])
def test_bad_bridge_address_is_refused_before_starting(port: str) -> None:
    with pytest.raises(HardwareError, match=r"ESP32 bridge port|needs a port"):
        open_receiver("esp32", port)


def test_auto_on_a_bridge_url_is_the_esp32_bridge() -> None:
    from hardware import resolve_kind

    assert resolve_kind("auto", "udp://0.0.0.0:7227") == "esp32"
    assert resolve_kind("AUTO", "mqtt://broker/wmbus/#") == "esp32"


def test_listen_shows_meter_type_and_whether_it_is_known(db_url: str, tmp_path, monkeypatch, capsys) -> None:
    import threading

    from pipeline.cli import run
    from pipeline.registry_import import import_meters_csv

    csv = tmp_path / "m.csv"
    csv.write_text("manufacturer,meter_id\nKAM,12345678\n")
    import_meters_csv(db_url, csv, master_key=None)
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    port = _free_port(socket.SOCK_DGRAM)
    known = bytes.fromhex("2e442d2c78563412") + bytes([0x1B, 0x07]) + bytes(37)
    unknown = synthetic_frame(87654321, 1)
    stop = threading.Event()

    def send() -> None:
        udp = UdpBridge("127.0.0.1", port)
        while not stop.wait(0.2):
            udp.send(line(known, -55) + line(unknown, -66))
        udp.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        assert run(["receivers", "listen", "auto", f"udp://127.0.0.1:{port}", "--count", "2"]) == 0
    finally:
        stop.set()
        sender.join(2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    first = next(o for o in out if " KAM 12345678 " in o)
    assert " v0x1b water known " in first and " -55.0 " in first
    other = next(o for o in out if " 87654321 " in o)
    assert " unknown " in other
