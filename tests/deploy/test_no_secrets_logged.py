"""Never log secrets: a broker URL with a password is logged (at any level) and shown without the password."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from collectors.daemon import CollectOptions, run
from collectors.mqtt import MqttTarget, redact_url
from core.settings import Settings
from pipeline.embedded import EmbeddedMosquitto
from pipeline.ingest_session import register_session

SECRET = "s3cret-Pa55word"


@pytest.mark.parametrize(("url", "shown"), [
    ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
    (f"mqtts://gw-7:{SECRET}@broker.example.net:8883", "mqtts://gw-7:***@broker.example.net:8883"),
    ("mqtt://gw:p%40ss%3Aword@host", "mqtt://gw:***@host"),
    (f"mqtt://u:{SECRET}@[::1]:1883", "mqtt://u:***@[::1]:1883"),
    ("mqtt://only-user@host:1", "mqtt://only-user@host:1"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_collect_logs_the_broker_without_its_password(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"mqtts://gw-7:{SECRET}@127.0.0.1:1"
    opts = CollectOptions.from_settings(Settings(), mqtt_url=url, receiver="", port="",
                                        spool_path=tmp_path / "spool.db", gateway_id="gw-7")
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(opts, Settings(), stop))  # not the main thread: no signal handlers
    thread.start()
    try:
        for _ in range(50):
            if "broker" in caplog.text:
                break
            threading.Event().wait(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert "gw-7:***@127.0.0.1:1" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(opts) and SECRET not in repr(MqttTarget.from_url(url))


def test_ingest_register_logs_no_password(caplog: pytest.LogCaptureFixture, private_broker: EmbeddedMosquitto) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings()
    url = f"mqtt://worker:{SECRET}@127.0.0.1:{private_broker.port}"  # the embedded broker lets anyone in
    register_session(mqtt_url=url, client_id="odczyt-ingest-log", settings=settings.ingest,
                     mqtt_settings=settings.mqtt)
    assert "worker:***@" in caplog.text and SECRET not in caplog.text
