"""A simulated ESP32 wM-Bus bridge: forwards telegrams as hex lines the way ESPHome ``wmbus`` clients do —
as a TCP client of the collector, as UDP datagrams, or as MQTT messages — optionally with ``;RSSI``."""

from __future__ import annotations

import json
import socket


def line(frame: bytes, rssi_dbm: float | None = None, *, as_json: bool = False) -> bytes:
    """The text a bridge sends for ``frame`` (L first, with or without CRCs)."""
    if as_json:
        return json.dumps({"telegram": frame.hex().upper(), "rssi": rssi_dbm}).encode() + b"\n"
    return (frame.hex().upper() + ("" if rssi_dbm is None else f";{rssi_dbm:g}")).encode() + b"\n"


class TcpBridge:
    """Connects to the collector's ``tcp://`` listener and sends lines (split anywhere, like a real stream)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)

    def send(self, data: bytes, *, chunk: int = 0) -> None:
        """Send ``data``, in pieces of ``chunk`` bytes when given."""
        step = chunk or len(data)
        for i in range(0, len(data), step):
            self.sock.sendall(data[i : i + step])

    def close(self) -> None:
        """Disconnect."""
        self.sock.close()


class UdpBridge:
    """Sends one datagram per telegram to the collector's ``udp://`` address."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, data: bytes) -> None:
        """One datagram."""
        self.sock.sendto(data, self.address)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class MqttBridge:
    """Publishes one message per telegram (QoS 1) on ``topic``."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = topic
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(host, port)
        self.client.loop_start()

    def send(self, data: bytes) -> None:
        """Publish and wait for the broker's PUBACK."""
        self.client.publish(self.topic, data.strip(), qos=1).wait_for_publish(10)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
