"""ESP32 wM-Bus bridges (ESPHome ``wmbus`` components, DIY CC1101/SX1276 gateways) that forward telegrams as
hex text over TCP, UDP or MQTT, one telegram per line or message.

Accepted lines/messages: ``HEX``; ``HEX;RSSI`` (also ``,`` or a space, RSSI in dBm); or a JSON object with the
hex in ``telegram`` / ``frame`` / ``data`` / ``hex`` and optional ``rssi`` / ``rssi_dbm``. The hex starts at the
L field, with or without DLL CRCs (format A or B: removed here), optional ``0x`` prefix. Other lines (a
bridge's log or banner) are replies, not faults; hex that is not a frame is a framing fault.

Ports (``odczyt collect --receiver esp32 --port …``):

* ``tcp://HOST:PORT`` — listen there; bridges connect as clients (as the ESPHome component's ``clients:`` with
  ``transport: tcp`` do). Several bridges may connect; lines are assembled per connection.
* ``tcp-connect://HOST:PORT`` — connect to a bridge that serves its telegrams (reconnects with the loop).
* ``udp://HOST:PORT`` — bind there; each datagram holds one or more lines (``transport: udp``).
* ``mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC`` — subscribe to TOPIC (wildcards allowed; ``mqtts://`` for
  TLS); each message is one telegram. Credentials come from the URL and are never logged.
"""

from __future__ import annotations

import contextlib
import json
import queue
import select
import socket
from urllib.parse import unquote, urlsplit

from hardware.base import Event, Fault, Heard, Reply
from hardware.dll import strip_crcs
from hardware.errors import HardwareError
from hardware.lines import PipeDriver
from hardware.transport import Transport

_HEX_KEYS = ("telegram", "frame", "data", "hex")
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def _from_json(line: str) -> tuple[str, float | None] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    text = next((obj[k] for k in _HEX_KEYS if isinstance(obj.get(k), str)), None)
    rssi = obj.get("rssi", obj.get("rssi_dbm"))
    return (text, float(rssi) if isinstance(rssi, int | float) else None) if text is not None else None


def _split(line: str) -> tuple[str, float | None] | None:
    if line.startswith("{"):
        return _from_json(line)
    for sep in (";", ",", " ", "\t"):
        if sep in line:
            text, _, rest = line.partition(sep)
            try:
                return text, float(rest.strip())
            except ValueError:
                return None
    return line, None


def parse_line(line: str) -> Event:
    """One bridge line → :class:`Heard`, a framing :class:`Fault`, or a :class:`Reply` (not a telegram)."""
    parts = _split(line.strip())
    if parts is None:
        return Reply(line, line.encode())
    text, rssi = parts
    text = text.strip().removeprefix("0x").removeprefix("0X")
    if len(text) < 24 or not set(text) <= _HEXDIGITS:
        return Reply(line, line.encode())
    if len(text) % 2:
        return Fault("framing", f"odd number of hex digits ({len(text)})")
    frame = strip_crcs(bytes.fromhex(text))
    if frame[0] != len(frame) - 1:
        return Fault("framing", f"frame length {len(frame)} vs L={frame[0]} (with CRCs neither A nor B)")
    return Heard(frame, rssi)


class TcpListenTransport:
    """Accepts bridge connections on HOST:PORT; ``read`` returns whole lines from any of them."""

    def __init__(self, host: str, port: int) -> None:
        self.server = socket.create_server((host, port), reuse_port=False)
        self.server.setblocking(False)
        self.clients: dict[socket.socket, bytearray] = {}

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (port 0 picks a free one)."""
        host, port = self.server.getsockname()[:2]
        return str(host), int(port)

    def read(self, timeout_s: float) -> bytes:
        """Complete lines received within ``timeout_s`` (``b""`` when none)."""
        ready, _, _ = select.select([self.server, *self.clients], [], [], timeout_s)
        out = bytearray()
        for sock in ready:
            if sock is self.server:
                conn, _ = self.server.accept()
                conn.setblocking(False)
                self.clients[conn] = bytearray()
                continue
            out += self._drain(sock)
        return bytes(out)

    def _drain(self, sock: socket.socket) -> bytes:
        buf = self.clients[sock]
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:  # the bridge went away: a partial line dies with its connection
            del self.clients[sock]
            sock.close()
            return b""
        buf += data
        cut = buf.rfind(b"\n") + 1
        whole = bytes(buf[:cut])
        del buf[:cut]
        return whole

    def write(self, data: bytes) -> None:
        """Bridges take no commands."""

    def close(self) -> None:
        """Close every connection and the listening socket."""
        for sock in self.clients:
            sock.close()
        self.clients.clear()
        self.server.close()


class SocketTransport:
    """A connected TCP stream or a bound UDP socket; datagrams end with a newline."""

    def __init__(self, sock: socket.socket, *, datagrams: bool) -> None:
        self.sock, self.datagrams = sock, datagrams

    def read(self, timeout_s: float) -> bytes:
        """Bytes received within ``timeout_s``; EOFError when a TCP bridge closed the connection."""
        ready, _, _ = select.select([self.sock], [], [], timeout_s)
        if not ready:
            return b""
        data = self.sock.recv(65536)
        if not data and not self.datagrams:
            raise EOFError("the bridge closed the connection")
        return data if not self.datagrams or data.endswith(b"\n") else data + b"\n"

    def write(self, data: bytes) -> None:
        """Bridges take no commands."""

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class MqttTransport:
    """Subscribes to a topic; each message becomes one line."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(url.split("#", 1)[0])  # '#' is a topic wildcard here, not a URL fragment
        rest = url.split("://", 1)[1]
        self.topic = (unquote(rest.split("/", 1)[1]) if "/" in rest else "") or "#"
        self.lines: queue.Queue[bytes] = queue.Queue(maxsize=100_000)
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or "") or None)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(self.topic, qos=1)
        self.client.on_message = lambda _c, _u, msg: self._put(msg.payload)
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883))
        self.client.loop_start()

    def _put(self, payload: bytes | bytearray) -> None:
        with contextlib.suppress(queue.Full):  # the loop is not reading: drop rather than grow without bound
            self.lines.put_nowait(bytes(payload).replace(b"\n", b" ").strip() + b"\n")

    def read(self, timeout_s: float) -> bytes:
        """Messages received within ``timeout_s``, one line each."""
        try:
            out = [self.lines.get(timeout=timeout_s)]
        except queue.Empty:
            return b""
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return b"".join(out)

    def write(self, data: bytes) -> None:
        """Bridges take no commands."""

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.port is None:
        raise OSError(f"{parts.scheme}:// bridge address needs a port: {parts.scheme}://HOST:PORT")
    return parts.hostname or "0.0.0.0", parts.port


def open_bridge(port: str, _baudrate: int = 0) -> Transport:
    """The transport for an ESP32 bridge ``port`` (see the module docstring)."""
    scheme = port.split("://", 1)[0].lower() if "://" in port else ""
    if scheme == "tcp":
        return TcpListenTransport(*_host_port(port))
    if scheme == "tcp-connect":
        return SocketTransport(socket.create_connection(_host_port(port), timeout=5), datagrams=False)
    if scheme == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(_host_port(port))
        return SocketTransport(sock, datagrams=True)
    if scheme in ("mqtt", "mqtts"):
        return MqttTransport(port)
    raise OSError(f"ESP32 bridge port {port.split('@')[-1]!r}: give tcp://, tcp-connect://, udp:// or mqtt:// URL")


SCHEMES = ("tcp", "tcp-connect", "udp", "mqtt", "mqtts")


def check_port(port: str) -> None:
    """HardwareError (one line for the user) unless ``port`` is a bridge URL this module opens."""
    scheme = port.split("://", 1)[0].lower() if "://" in port else ""
    if scheme not in SCHEMES:
        raise HardwareError(f"ESP32 bridge port {port.split('@')[-1]!r}: give tcp://HOST:PORT (listen), "
                            "tcp-connect://HOST:PORT, udp://HOST:PORT or mqtt://HOST[:PORT]/TOPIC")
    if scheme in ("tcp", "tcp-connect", "udp"):
        try:
            _host_port(port)
        except (OSError, ValueError) as exc:
            raise HardwareError(str(exc)) from None


class Esp32BridgeDriver(PipeDriver):
    """A hex-forwarding ESP32 bridge as a read-only source; ``opener`` makes its network transport."""

    name = "esp32"
    parse_line = staticmethod(parse_line)
    opener = staticmethod(open_bridge)
    check_port = staticmethod(check_port)
