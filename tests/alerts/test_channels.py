"""Notification channels against real local servers: http.server, aiosmtpd, Mosquitto."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller

from alerts.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EmailChannel,
    MqttChannel,
    SmtpConfig,
    WebhookChannel,
    sign,
    verify_signature,
)
from alerts.errors import DeliveryError
from alerts.notify import RetryPolicy, build_payload, deliver
from pipeline.embedded import free_port

ALERT = {"id": 5, "kind": "continuous_flow", "subject": "m:1", "severity": "critical", "area": "north",
         "evidence": {"min_flow_m3h": 0.2}, "detected_at": datetime(2025, 1, 6, tzinfo=UTC)}


class Receiver:
    """A tiny webhook receiver in a thread that records (headers, body) and answers ``status``."""

    def __init__(self, port: int, status: int = 200) -> None:
        self.port, self.status, self.got = port, status, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def test_webhook_body_is_signed() -> None:
    with Receiver(free_port()) as rx:
        WebhookChannel().send(rx.url, build_payload("raised", ALERT), secret="s3cret", delivery_id="1")
    headers, body = rx.got[0]
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert abs(int(ts) - time.time()) < 60 and sig.startswith("v1=")
    assert verify_signature("s3cret", body, timestamp=ts, signature=sig)
    assert not verify_signature("other", body, timestamp=ts, signature=sig)
    assert not verify_signature("s3cret", body + b" ", timestamp=ts, signature=sig)  # body changed
    assert not verify_signature("s3cret", body, timestamp=str(int(ts) + 1), signature=sig)  # timestamp changed
    doc = json.loads(body)
    assert doc["event"] == "raised" and doc["alert"]["evidence"] == {"min_flow_m3h": 0.2}


def test_signature_is_hmac_of_timestamp_dot_body_and_replays_are_refused() -> None:
    body, secret, ts = b'{"event":"raised"}', "k3y", 1_764_658_800
    expected = "v1=" + hmac.new(b"k3y", b"1764658800." + body, hashlib.sha256).hexdigest()
    assert sign(secret, body, ts) == expected
    ok = {"timestamp": str(ts), "signature": expected}
    assert verify_signature(secret, body, **ok, now=ts + 299)
    assert verify_signature(secret, body, **ok, now=ts - 299)  # receiver's clock a little behind
    assert not verify_signature(secret, body, **ok, now=ts + 301)  # replayed after the 5-minute tolerance
    assert not verify_signature(secret, body, **ok, now=ts + 3600, tolerance_s=300)
    assert not verify_signature(secret, body, timestamp=None, signature=expected, now=ts)
    assert not verify_signature(secret, body, timestamp="17646588OO", signature=expected, now=ts)
    assert not verify_signature(secret, body, timestamp=str(ts), signature=None, now=ts)


def test_webhook_error_status_and_refused_connection_raise() -> None:
    with Receiver(free_port(), status=503) as rx, pytest.raises(DeliveryError, match="HTTP 503"):
        WebhookChannel().send(rx.url, {"event": "raised"}, secret="s")
    with pytest.raises(DeliveryError, match="ConnectError"):
        WebhookChannel(timeout_s=1).send(f"http://127.0.0.1:{free_port()}/hook", {"event": "raised"}, secret="s")


def test_webhook_never_sends_unsigned() -> None:
    with Receiver(free_port()) as rx, pytest.raises(DeliveryError, match="no signing secret"):
        WebhookChannel().send(rx.url, {"event": "raised"}, secret=None)
    assert rx.got == []


def test_deliver_backs_off_then_dead_letters() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=10, factor=2)
    now = datetime(2025, 1, 6, tzinfo=UTC)
    row = {"id": 1, "attempts": 0, "payload": {"event": "raised"},
           "subscription": {"channel": "webhook", "target": f"http://127.0.0.1:{free_port()}/", "secret": None}}
    waits = []
    for attempts in range(3):
        (o,) = deliver([{**row, "attempts": attempts}], {"webhook": WebhookChannel(timeout_s=1)}, policy, now)
        waits.append(None if o.dead else (o.next_attempt_at - now).total_seconds())
    assert waits == [10.0, 20.0, None]


class _Sink:
    def __init__(self) -> None:
        self.messages: list[object] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, _Sink]]:
    sink = _Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        yield ctl, sink
    finally:
        ctl.stop()


def test_email_is_sent_over_smtp(smtp: tuple[Controller, _Sink]) -> None:
    ctl, sink = smtp
    channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=ctl.port))
    channel.send("ops@wodociagi.example", build_payload("raised", ALERT))
    env = sink.messages[0]
    assert env.rcpt_tos == ["ops@wodociagi.example"]
    text = env.content.decode()
    assert "continuous_flow" in text and "min_flow_m3h" in text


def test_email_to_a_server_that_is_down_raises() -> None:
    with pytest.raises(DeliveryError):
        EmailChannel(SmtpConfig(host="127.0.0.1", port=free_port(), timeout_s=1)).send("x@y", {"alert": {}})


@pytest.mark.services
def test_mqtt_publishes_to_the_alerts_topic(mqtt_broker) -> None:
    got: list[bytes] = []
    ready, arrived = threading.Event(), threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_connect = lambda c, *_: (c.subscribe("odczyt/v1/alerts", qos=1), ready.set())
    sub.on_message = lambda _c, _u, msg: (got.append(msg.payload), arrived.set())
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.loop_start()
    try:
        assert ready.wait(5)
        threading.Event().wait(0.3)  # let the SUBACK land
        ch = MqttChannel(mqtt_broker.host, mqtt_broker.port)
        ch.send(None, build_payload("raised", ALERT))
        ch.close()
        assert arrived.wait(5)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert json.loads(got[0])["alert"]["kind"] == "continuous_flow"
