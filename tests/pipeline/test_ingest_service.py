"""``odczyt ingest`` as a service: a subprocess that commits frames, serves metrics and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from ingest_helpers import MASTER, T0, Publisher, count, make_messages, register_meters, wait_for

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def test_ingest_service_commits_serves_metrics_runs_analysis_and_stops_on_sigterm(db_url: str, mqtt_broker,
                                                                                   tmp_path: Path) -> None:
    ids = register_meters(db_url, tmp_path, 5)
    messages = make_messages(ids, rounds=2, start=T0)
    prefix, port = f"svc-{uuid.uuid4().hex[:8]}", _free_port()
    env = {**os.environ, "ODCZYT_DATABASE_URL": db_url, "ODCZYT_MQTT_URL": mqtt_broker.url,
           "ODCZYT_MASTER_KEY": MASTER.hex(), "ODCZYT_MQTT__TOPIC_PREFIX": prefix,
           "ODCZYT_INGEST__BATCH_MS": "50", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest", "--metrics-port", str(port),
                             "--client-id", prefix, "--analyze-every", "3600"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        deadline = time.monotonic() + 60
        while count(db_url) < 10 and time.monotonic() < deadline:
            pub.publish(messages)  # again until the subscription is up: redeliveries dedupe
            time.sleep(0.5)
        assert count(db_url) == 10
        wait_for(lambda: "odczyt_alerts_open" in _scrape(port), what="metrics with an analysis run")
        metrics = _scrape(port)
        assert "odczyt_ingest_readings_committed_total 10.0" in metrics
        assert "odczyt_ingest_frames_total" in metrics
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert count(db_url) == 10
