"""Exclusive serial ports: a second process opening a receiver's port gets a one-line "in use by PID n" error
and exit 2, never a share of the frames; once the holder is gone the port opens again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware import open_receiver
from hardware.errors import PortInUseError
from hardware.sim.im871a import Im871aSimulator
from hardware.transport import IO_ERRORS, SerialTransport, check_port_free, lock_holder

REPO = Path(__file__).resolve().parents[2]
HOLD = ("import sys; from hardware.transport import SerialTransport; t = SerialTransport(sys.argv[1], 57600); "
        "print('ready', flush=True); sys.stdin.read(); t.close()")


@pytest.fixture
def sim() -> Iterator[Im871aSimulator]:
    with Im871aSimulator() as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def holder(sim: Im871aSimulator) -> Iterator[subprocess.Popen[str]]:
    """Another process that has the simulator's port open, as a running ``odczyt collect`` would."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, sim.port], cwd=REPO, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.communicate("", timeout=10)


def test_second_open_names_the_holder(sim: Im871aSimulator, holder: subprocess.Popen[str]) -> None:
    assert lock_holder(sim.port) == holder.pid
    with pytest.raises(PortInUseError, match=rf"^port {sim.port} is in use by PID {holder.pid} \(.*python"):
        SerialTransport(sim.port, 57600)
    with pytest.raises(PortInUseError, match=f"PID {holder.pid}"):
        check_port_free(sim.port)
    with pytest.raises(PortInUseError):
        open_receiver("im871a", sim.port)  # refused before a reader thread starts
    assert issubclass(PortInUseError, IO_ERRORS)  # a running loop that meets it retries, it never crashes
    holder.communicate("", timeout=10)
    check_port_free(sim.port)
    with open_receiver("im871a", sim.port) as rx:
        assert rx.wait_ready(5)


def test_second_collect_on_the_port_is_one_line_and_exit_2(sim: Im871aSimulator, holder: subprocess.Popen[str],
                                                            tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ODCZYT_MQTT_URL": "mqtt://127.0.0.1:1"}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "collect", "--receiver", "im871a", "--port", sim.port,
                           "--spool", str(tmp_path / "spool.db")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {sim.port} is in use by PID {holder.pid}" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_receiver_still_reads_its_own_port_exclusively(sim: Im871aSimulator) -> None:
    with open_receiver("im871a", sim.port) as rx:
        assert rx.wait_ready(5)
        assert lock_holder(sim.port) == os.getpid()
    assert lock_holder(sim.port) is None
