"""Customer notices end to end: a customer's SMS subscription at their service point, a leak found by the
analysis, the outbox, and a local HTTP server playing the SMS gateway (accepts, fails, reports an error in a
200 answer); own threshold, other service points, opt-out; Polish text naming the address."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from registry_seed import add_meter, add_point, add_readings, install

from alerts.channels.sms import SmsChannel, SmsConfig, message_text, normalize_phone
from alerts.notify import RetryPolicy
from pipeline.analyze import dispatch_outbox, run_analysis
from storage import alerts_outbox as outbox
from storage import notices

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)


class SmsGateway:
    """A local HTTP server answering like an SMS gateway; ``answers`` is a queue of (status, JSON body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                gateway.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                         "form": {k: v[0] for k, v in parse_qs(body).items()}})
                status, answer = gateway.answers.pop(0) if gateway.answers else (200, {"count": 1})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms.do"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    gw = SmsGateway()
    gw.thread.start()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()


def _leaks(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        for n in (1, 2):
            add_point(conn, f"SP-{n}")
            key = add_meter(conn, f"0000000{n}")
            install(conn, f"SP-{n}", key, T0 - timedelta(days=400))
            add_readings(conn, key, T0, [0.05] * 30)  # 50 l/h without a pause: continuous flow


def test_sms_notice_names_the_address_and_goes_only_to_that_service_points_customer(
        db_url: str, sms_gateway: SmsGateway) -> None:
    _leaks(db_url)
    with psycopg.connect(db_url) as conn:
        mine = notices.subscribe(conn, service_point_id="SP-1", channel="sms", contact="+48 600 100 200",
                                 source="e-BOK", at=T0)
        high = notices.subscribe(conn, service_point_id="SP-1", channel="sms", contact="601 200 300",
                                 source="phone call", at=T0, leak_threshold_m3h=0.2)  # own threshold above 50 l/h
        gone = notices.subscribe(conn, service_point_id="SP-1", channel="sms", contact="602 300 400",
                                 source="paper form", at=T0)
        assert notices.opt_out(conn, subscription_id=gone, source="sms STOP", at=T0 + timedelta(hours=1))
        assert not notices.opt_out(conn, subscription_id=gone, source="again", at=T0 + timedelta(hours=1))
        assert [c["action"] for c in notices.consents(conn, subscription_id=gone)] == ["opt_in", "opt_out"]
    report = run_analysis(db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry())
    assert report.raised_by_kind().get("continuous_flow") == 2
    with psycopg.connect(db_url) as conn:
        queued = [r for r in outbox.outbox_rows(conn) if r["subscription_id"] in (mine, high, gone)]
    assert [r["subscription_id"] for r in queued] == [mine]  # not SP-2's leak, not above 0.2, not opted out

    channel = SmsChannel(SmsConfig(url=sms_gateway.url, token="s3cret-token", sender="Wodociagi"))
    outcomes = dispatch_outbox(db_url, {"sms": channel}, now=T0 + timedelta(hours=30))
    assert [o.ok for o in outcomes] == [True]
    (req,) = sms_gateway.requests
    assert req["auth"] == "Bearer s3cret-token" and req["form"]["to"] == "48600100200"
    assert req["form"]["from"] == "Wodociagi" and req["form"]["idx"] == str(queued[0]["id"])
    assert req["form"]["check_idx"] == "1" and req["form"]["format"] == "json"
    text = req["form"]["message"]
    assert "ul. Wodna 1, Kraków" in text and "ciągły przepływ" in text and "Wykryto" in text
    assert "KAM 00000001" in text and "SP-1" in text


def test_sms_gateway_failures_are_retried_then_dead_lettered(db_url: str, sms_gateway: SmsGateway) -> None:
    _leaks(db_url)
    with psycopg.connect(db_url) as conn:
        notices.subscribe(conn, service_point_id="SP-2", channel="sms", contact="+48 600 100 200", source="e-BOK",
                          at=T0)
    run_analysis(db_url, now=T0 + timedelta(hours=30), registry=CollectorRegistry())
    sms_gateway.answers = [(503, {"message": "busy"}), (200, {"error": 101, "message": "Authorization failed"})]
    channel = SmsChannel(SmsConfig(url=sms_gateway.url, token="t"))
    policy = RetryPolicy(max_attempts=2, base_s=1, factor=1)
    now = T0 + timedelta(hours=30)
    first = dispatch_outbox(db_url, {"sms": channel}, policy=policy, now=now)
    assert [(o.ok, o.dead) for o in first] == [(False, False)] and "HTTP 503" in (first[0].error or "")
    second = dispatch_outbox(db_url, {"sms": channel}, policy=policy, now=now + timedelta(seconds=5))
    assert [(o.ok, o.dead) for o in second] == [(False, True)] and "error 101" in (second[0].error or "")
    with psycopg.connect(db_url) as conn:
        (row,) = outbox.outbox_rows(conn)
    assert row["dead_at"] is not None and row["attempts"] == 2 and len(sms_gateway.requests) == 2


def test_phone_numbers_and_templates() -> None:
    assert normalize_phone("+48 600-100-200") == "48600100200"
    assert normalize_phone("600100200") == "48600100200"
    assert normalize_phone("0048600100200") == "48600100200"
    with pytest.raises(ValueError, match="not a phone number"):
        normalize_phone("call me")
    payload = {"event": "resolved", "alert": {"kind": "night_flow", "address": "ul. Długa 5", "service_point_id": "P9",
                                              "manufacturer": "APA", "meter_id": "12345678",
                                              "detected_at": "2026-11-02T02:00:00+00:00"}}
    assert message_text(payload).startswith("Wodociągi: Zakończono: przepływ nocny")
    custom = message_text(payload, template="{event} – {address}: {kind}")
    assert custom == "Zakończono – ul. Długa 5: przepływ nocny (możliwy wyciek)"
    assert "ul. Długa 5" in message_text(payload, template="{nope}")  # a broken template falls back
    assert len(message_text(payload, template="x" * 1000, max_chars=160)) == 160
