"""``odczyt ingest`` serves /metrics on 127.0.0.1 unless told otherwise (``--metrics-host``): checked in the
kernel's socket table of the running service, not in its arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.embedded import free_port

REPO = Path(__file__).resolve().parents[2]


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp) with a socket listening on ``port``."""
    found = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":
                found.add(addr)
    return found


def test_ingest_metrics_listen_on_loopback_by_default(db_url: str, mqtt_broker, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ODCZYT_DATABASE_URL": db_url, "ODCZYT_MQTT_URL": mqtt_broker.url,
           "PYTHONPATH": str(REPO), "ODCZYT_INGEST__WATCH_GATEWAYS": "false",
           # a topic and group of its own: the worker's durable session outlives it on the suite's shared broker,
           # and in the default group it would take a share of every later test's frames
           "ODCZYT_MQTT__TOPIC_PREFIX": f"t/metrics-{port}", "ODCZYT_INGEST__SHARED_GROUP": f"metrics{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest", "--metrics-port", str(port),
                             "--client-id", f"metrics-bind-{port}", "--no-migrate", "--decode-processes", "0",
                             "--analyze-every", "0"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert _listening(port) == {"0100007F"}, "metrics must listen on 127.0.0.1 only"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), out.decode(errors="replace")[-2000:]
