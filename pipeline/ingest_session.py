"""An ingest worker's MQTT identity and its durable session on the broker.

``make_ingest_client`` builds the paho client a worker connects with (client id, credentials, TLS), and
``register_session`` (``odczyt ingest --register``) creates that worker's durable session in the shared group
**before any worker ever ran**: a shared subscription only keeps messages for sessions that exist, so frames a
gateway publishes before the group's first member connected are acknowledged to the gateway (which then drops
them from its spool) and discarded by the broker. Registering connects with the worker's client id,
``clean_start=False`` and the worker's session expiry, subscribes the group's topic at QoS 1 and disconnects;
from then on the broker queues the group's frames for the session until the worker connects and takes them.

A broker URL appears in log lines and messages only through ``redact_url`` (without its password).
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.mqtt import redact_url
from core.errors import OdczytError
from core.settings import IngestSettings, MqttSettings

log = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 24 * 3600


class BrokerUnavailableError(OdczytError):
    """The broker could not be reached, refused the account, or refused the subscription."""


def shared_topic(settings: IngestSettings, mqtt_settings: MqttSettings) -> str:
    """The shared subscription every ingest worker of the group subscribes."""
    return f"$share/{settings.shared_group}/{mqtt_settings.topic_prefix}/frames/+"


def make_ingest_client(client_id: str, mqtt_url: str, mqtt_settings: MqttSettings) -> mqtt.Client:
    """A paho MQTT 5 client with manual acks; credentials from the URL or ``MqttSettings``, TLS for ``mqtts://``
    or ``mqtt.tls``."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    parts = urlsplit(mqtt_url)
    username = unquote(parts.username) if parts.username else mqtt_settings.username
    if parts.password:
        password: str | None = unquote(parts.password)
    else:
        password = mqtt_settings.password.get_secret_value() if mqtt_settings.password else None
    if username:
        client.username_pw_set(username, password)
    if mqtt_settings.tls or parts.scheme in ("mqtts", "ssl", "tls"):
        client.tls_set(ca_certs=str(mqtt_settings.ca_file) if mqtt_settings.ca_file else None)
    return client


def connect_properties(receive_maximum: int) -> Properties:
    """CONNECT properties of a worker's durable session."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho is untyped here
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = receive_maximum
    return props


def broker_address(mqtt_url: str) -> tuple[str, int]:
    """Host and port of ``mqtt_url`` (8883 by default for ``mqtts://``)."""
    parts = urlsplit(mqtt_url)
    default = 8883 if parts.scheme in ("mqtts", "ssl", "tls") else 1883
    return parts.hostname or "127.0.0.1", parts.port or default


class _SubscribeOnce:
    """paho callbacks of :func:`register_session`: subscribe once connected, note the broker's answer."""

    def __init__(self, topic: str) -> None:
        self.topic, self.error, self.done = topic, "", threading.Event()

    def on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            self.error = f"broker refused the connection: {reason}"
            self.done.set()
        else:
            client.subscribe(self.topic, qos=1)

    def on_subscribe(self, _c: object, _u: object, _mid: int, reasons: list[Any], _p: object) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            self.error = f"broker refused the subscription to {self.topic}: {failed[0]}"
        self.done.set()


def register_session(*, mqtt_url: str, client_id: str, settings: IngestSettings, mqtt_settings: MqttSettings,
                     timeout_s: float = 15.0) -> str:
    """Create (or confirm) worker ``client_id``'s durable session in the shared group; the topic subscribed.

    Messages the broker already kept for the session may arrive while this runs: they are never acknowledged
    here (manual acks), so the broker delivers them again to the worker. The receive maximum is the worker's
    own: Mosquitto 2.0.11 was seen withholding a queued message from a session whose receive maximum changed
    between connections (register with 1, worker with 1000) while a message was in flight.
    """
    topic = shared_topic(settings, mqtt_settings)
    client = make_ingest_client(client_id, mqtt_url, mqtt_settings)
    answer = _SubscribeOnce(topic)
    client.on_connect, client.on_subscribe = answer.on_connect, answer.on_subscribe
    host, port = broker_address(mqtt_url)
    try:
        client.connect(host, port, keepalive=mqtt_settings.keepalive_s, clean_start=False,
                       properties=connect_properties(mqtt_settings.max_inflight))
    except OSError as exc:
        raise BrokerUnavailableError(f"cannot reach the broker at {redact_url(mqtt_url)}: {exc}") from exc
    client.loop_start()
    try:
        if not answer.done.wait(timeout_s):
            raise BrokerUnavailableError(f"no answer from the broker at {redact_url(mqtt_url)} in {timeout_s:.0f} s")
        if answer.error:
            raise BrokerUnavailableError(answer.error)
    finally:
        client.disconnect()  # a normal DISCONNECT keeps the session (expiry as connected)
        client.loop_stop()
        client._reset_sockets()  # paho's wake-up socket pair: closed now, not (with a warning) by the GC
    log.info("durable session %s registered on %s (%s)", client_id, topic, redact_url(mqtt_url))
    return topic
