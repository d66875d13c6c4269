"""Helpers of the deployment tests: a test CA, the production broker config rendered for a test, MQTT clients."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pipeline.embedded import EmbeddedMosquitto, free_port
from pipeline.mqtt_accounts import AccountFiles
from tests.pki import write_pki

REPO = Path(__file__).resolve().parents[2]
PROD_CONF = REPO / "deploy" / "mosquitto" / "odczyt.conf"


@dataclass
class ProdBroker:
    """The shipped production config running on free ports, with its account files in a temp dir."""

    broker: EmbeddedMosquitto
    tls_port: int
    ca: Path
    files: AccountFiles
    pid_file: Path

    @property
    def port(self) -> int:
        return self.broker.port


def render_prod_conf(d: Path, port: int, tls_port: int) -> str:
    """deploy/mosquitto/odczyt.conf with its paths and listeners moved into ``d`` and onto free ports."""
    text = PROD_CONF.read_text(encoding="utf-8")
    swaps = {"/etc/mosquitto/odczyt.passwd": str(d / "passwd"), "/etc/mosquitto/odczyt.acl": str(d / "acl"),
             "/etc/mosquitto/certs/ca.pem": str(d / "ca.pem"),
             "/etc/mosquitto/certs/server.pem": str(d / "server.pem"),
             "/etc/mosquitto/certs/server.key": str(d / "server.key"),
             "listener 8883\n": f"listener {tls_port} 127.0.0.1\n",
             "listener 1883 127.0.0.1\n": f"listener {port} 127.0.0.1\n"}
    for old, new in swaps.items():
        assert old in text, f"the production config no longer has {old!r}: update the test"
        text = text.replace(old, new)
    return text


def start_prod_broker(d: Path) -> ProdBroker:
    """Start Mosquitto with the production config (accounts files must exist, possibly empty)."""
    ca, _, _ = write_pki(d)
    files = AccountFiles(d / "passwd", d / "acl")
    for path in (files.passwords, files.acl):
        if not path.exists():
            path.write_text("")
    port, tls_port = free_port(), free_port()
    pid_file = d / "mosquitto.pid"
    broker = EmbeddedMosquitto(d, port=port, base_conf=render_prod_conf(d, port, tls_port), own_listener=False,
                               extra_conf=(f"pid_file {pid_file}",)).start()
    return ProdBroker(broker, tls_port, ca, files, pid_file)


@dataclass
class Session:
    """One test client: its CONNACK reason, SUBACKs, received (topic, payload) pairs and disconnects."""

    client: paho.Client
    connack: Any = None
    subacks: list[Any] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)

    def subscribe(self, topic: str) -> Any:
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_until(lambda: len(self.subacks) > before, what=f"SUBACK for {topic}")
        return self.subacks[-1]

    def topics(self) -> list[str]:
        return [t for t, _ in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(port: int, user: str | None = None, password: str | None = None, *, client_id: str = "",
            ca: Path | None = None, clean_start: bool = True, expiry_s: int = 0, wait: bool = True) -> Session:
    """A paho MQTT 5 client, connected (or refused: see ``Session.connack``) before it is returned."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    s = Session(client)
    if user is not None:
        client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        s.connack = rc
        if not rc.is_failure:
            s.connected.set()
        s.answered.set()  # last: the waiting test reads connected as soon as this is set

    client.on_connect = on_connect
    client.on_disconnect = lambda *_a: s.answered.set()
    client.on_subscribe = lambda _c, _u, _mid, rcs, _p: s.subacks.append(rcs[0])
    client.on_message = lambda _c, _u, m: s.received.append((m.topic, bytes(m.payload)))
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = expiry_s
    client.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
    client.loop_start()
    if wait:
        s.answered.wait(10)
    return s


def publish(s: Session, topic: str, payload: bytes, *, retain: bool = False) -> Any:
    """Publish at QoS 1 and wait (bounded) for the broker's answer; the paho MessageInfo."""
    info = s.client.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(5)
    return info


def publish_once(port: int, user: str, password: str, topic: str, payload: bytes) -> None:
    """Connect as ``user``, publish one QoS 1 message and leave. Mosquitto 2.0 answers a publish the ACL denies
    with PUBACK 0x87 and drops the connection, so attempts that should fail get a client of their own."""
    s = connect(port, user, password)
    assert s.connected.is_set(), f"{user} refused: {s.connack}"
    info = s.client.publish(topic, payload, qos=1)
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(2)
    s.close()


def wait_until(condition: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
