"""Outbox delivery end to end: subscriptions filter, a webhook receiver that is down and comes back, e-mail,
and a dispatcher that crashes after claiming (the lease runs out and the message is sent again)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from alerts.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EmailChannel,
    SmtpConfig,
    WebhookChannel,
    verify_signature,
)
from alerts.notify import RetryPolicy
from pipeline.analyze import dispatch_outbox, run_analysis
from pipeline.embedded import free_port
from storage import alerts_outbox as outbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from test_analyze_lifecycle import T0, A, B, add_readings, seed_registry
from test_channels import Receiver, _Sink

pytestmark = pytest.mark.services
END = T0 + timedelta(hours=30)
MASTER = bytes(range(32))  # webhook secrets are sealed with the master key


def _raise_leak(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True), (B, "SP-B", True)])
    add_readings(db_url, A, T0, [0.05] * 30, 100.0)
    run_analysis(db_url, now=END, registry=CollectorRegistry(), rules=("continuous_flow",))


def test_webhook_receiver_down_then_back(db_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with psycopg.connect(db_url) as conn:
        outbox.add_subscription(conn, channel="webhook", target=url, secret="k", kinds=["continuous_flow"],
                                master_key=MASTER)
        outbox.add_subscription(conn, channel="webhook", target=url, kinds=["burst"],  # other kind: nothing
                                master_key=MASTER)
        outbox.add_subscription(conn, channel="webhook", target=url, areas=["south"],  # other area: nothing
                                master_key=MASTER)
    _raise_leak(db_url)
    channels = {"webhook": WebhookChannel(timeout_s=1)}
    policy = RetryPolicy(max_attempts=5, base_s=60)
    (first,) = dispatch_outbox(db_url, channels, policy=policy, now=END, master_key=MASTER)
    assert not first.ok and first.next_attempt_at == END + timedelta(seconds=60)
    assert dispatch_outbox(db_url, channels, policy=policy, now=END + timedelta(seconds=30),
                           master_key=MASTER) == []  # backing off
    with Receiver(port) as rx:
        (second,) = dispatch_outbox(db_url, channels, policy=policy, now=END + timedelta(seconds=61),
                                    master_key=MASTER)
    assert second.ok
    headers, body = rx.got[0]
    assert verify_signature("k", body, timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER])
    assert json.loads(body)["alert"]["kind"] == "continuous_flow"
    with psycopg.connect(db_url) as conn:
        (row,) = outbox.outbox_rows(conn)
    assert row["attempts"] == 2 and row["sent_at"] is not None


def test_dead_letter_after_max_attempts(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        outbox.add_subscription(conn, channel="webhook", target=f"http://127.0.0.1:{free_port()}/",
                                master_key=MASTER)
    _raise_leak(db_url)
    policy = RetryPolicy(max_attempts=2, base_s=1)
    channels = {"webhook": WebhookChannel(timeout_s=1)}
    assert not dispatch_outbox(db_url, channels, policy=policy, now=END)[0].dead
    assert dispatch_outbox(db_url, channels, policy=policy, now=END + timedelta(seconds=5))[0].dead
    with psycopg.connect(db_url) as conn:
        assert outbox.outbox_rows(conn, pending_only=True) == []
        assert outbox.outbox_rows(conn)[0]["dead_at"] is not None


def test_email_and_crash_after_claim(db_url: str) -> None:
    sink = _Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        with psycopg.connect(db_url) as conn:
            outbox.add_subscription(conn, channel="email", target="ops@example.pl", min_severity="warning")
        _raise_leak(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert len(outbox.claim_due(conn, now=END)) == 1  # then the dispatcher "crashes"
        channels = {"email": EmailChannel(SmtpConfig(host="127.0.0.1", port=ctl.port))}
        assert dispatch_outbox(db_url, channels, now=END + timedelta(seconds=10)) == []  # leased
        (o,) = dispatch_outbox(db_url, channels, now=END + timedelta(seconds=61))
        assert o.ok
    finally:
        ctl.stop()
    assert sink.messages[0].rcpt_tos == ["ops@example.pl"]
    assert "continuous_flow" in sink.messages[0].content.decode()


def test_alerts_dispatch_command_sends_through_the_configured_channels(db_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from core.settings import Settings
    from pipeline.analyze import configured_channels
    from pipeline.cli import app

    port = free_port()
    with psycopg.connect(db_url) as conn:
        outbox.add_subscription(conn, channel="webhook", target=f"http://127.0.0.1:{port}/hook",
                                kinds=["continuous_flow"], master_key=MASTER)
        outbox.add_subscription(conn, channel="email", target="ops@example.org", kinds=["continuous_flow"])
    _raise_leak(db_url)
    monkeypatch.setenv("ODCZYT_NOTIFY__MQTT", "false")
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    monkeypatch.delenv("ODCZYT_NOTIFY__SMTP_HOST", raising=False)
    runner = CliRunner()
    with Receiver(port) as rx:
        res = runner.invoke(app, ["alerts", "dispatch", "--db-url", db_url])
    assert res.exit_code == 1, res.output  # e-mail is not configured: that one waits for a retry
    assert "1 sent, 1 to retry, 0 dead-lettered" in res.output
    assert len(rx.got) == 1 and json.loads(rx.got[0][1])["alert"]["kind"] == "continuous_flow"
    res = runner.invoke(app, ["alerts", "dispatch", "--db-url", db_url])
    assert "0 sent, 0 to retry" in res.output  # nothing due until the backoff ends

    monkeypatch.setenv("ODCZYT_NOTIFY__SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("ODCZYT_NOTIFY__SMTP_PORT", "2525")
    channels = configured_channels(Settings())
    assert set(channels) == {"webhook", "email"}
    assert isinstance(channels["email"], EmailChannel) and channels["email"].config.port == 2525
