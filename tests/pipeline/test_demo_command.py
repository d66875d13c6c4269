"""``odczyt demo`` stopped by SIGTERM (a service manager, ``timeout``) stops the PostgreSQL and Mosquitto it
started, as Ctrl-C does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipeline.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_demo_and_its_embedded_services(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}  # embedded services, not the suite's
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "demo", "--meters", "3", "--days", "1",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while True:  # the API is up once the summary is printed
            assert proc.poll() is None, "the demo ended before serving"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the demo's API did not come up"
                time.sleep(0.5)
        services = _descendants(proc.pid)
        assert services, "the demo started no embedded services"
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in services) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in services if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
