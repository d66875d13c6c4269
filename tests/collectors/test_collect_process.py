"""``odczyt collect`` as a real process: kill -9 with a full spool, restart, nothing lost."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from collect_helpers import wait_for

from collectors.spool import Spool
from hardware.sim.frames import synthetic_frame
from hardware.sim.im871a import Im871aSimulator

ROOT = Path(__file__).resolve().parents[2]


def start_collector(port: str, mqtt_url: str, spool: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "pipeline.cli", "collect", "--receiver", "im871a", "--port", port,
           "--mqtt-url", mqtt_url, "--spool", str(spool), "--gateway-id", "gw-kill", "--batch-ms", "20",
           "--batch-frames", "50", "--heartbeat-s", "1"]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def spooled(path: Path) -> int:
    if not path.exists():
        return 0
    spool = Spool(path)
    try:
        return spool.depth
    finally:
        spool.close()


def test_kill_minus_9_loses_nothing_that_was_spooled(private_broker, recorder_factory, tmp_path: Path):
    spool, log = tmp_path / "spool.db", tmp_path / "collect.log"
    frames = [synthetic_frame(50000000 + i, i) for i in range(300)]
    private_broker.stop()  # an outage: the first collector can only spool
    with Im871aSimulator() as sim:
        first = start_collector(sim.port, private_broker.url, spool, log)
        try:
            wait_for(lambda: sim.inits >= 1, 30, "first collector initialised the receiver")
            for frame in frames:
                sim.transmit(frame)
            wait_for(lambda: spooled(spool) == len(frames), 30, "every frame spooled")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        private_broker.start()
        rec = recorder_factory("127.0.0.1", private_broker.port)
        second = start_collector(sim.port, private_broker.url, spool, log)
        try:
            wait_for(lambda: set(frames) <= set(rec.frames), 60, "spool recovered and drained")
            wait_for(lambda: sim.inits >= 2, 30, "second collector initialised the receiver")
            later = [synthetic_frame(51000000 + i, i) for i in range(50)]
            for frame in later:
                sim.transmit(frame)
            wait_for(lambda: set(later) <= set(rec.frames), 30, "new frames after restart")
            wait_for(lambda: spooled(spool) == 0, 30, "spool empty after acks")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()[-2000:]
    wait_for(lambda: any(s.get("state") == "offline" for s in rec.status), 10, "offline status after SIGTERM")
