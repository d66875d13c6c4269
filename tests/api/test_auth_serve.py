"""``odczyt serve`` and ``uvicorn api.asgi:app`` as real processes: several workers, access log, SIGTERM, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serving import ROOT, free_port, run_server, wait_ready

pytestmark = pytest.mark.services


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def test_serve_with_two_workers_answers_logs_and_stops_on_sigterm(db_url: str, tmp_path: Path) -> None:
    with run_server(db_url, tmp_path, workers=2, log_level="info") as (base, proc):
        for _ in range(20):
            assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{base}/v1/meters", timeout=10).status_code == 401
        workers = [c for c in _children(proc.pid) if Path(f"/proc/{c}").exists()]
        assert len(workers) >= 2, workers  # uvicorn's supervisor and its two worker processes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert '"GET /readyz HTTP/1.1" 200' in log  # access log on
    assert '"GET /v1/meters HTTP/1.1" 401' in log


def test_plain_uvicorn_runs_api_asgi_app(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")},
           "ODCZYT_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/alerts").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_serve_without_database_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pipeline", "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "ODCZYT_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30
    bad = subprocess.run([sys.executable, "-m", "pipeline", "serve", "--workers", "0"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_readyz_follows_the_database_and_healthz_does_not(private_pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from storage.migrate import migrate

    migrate(private_pg.url)
    with run_server(private_pg.url, tmp_path) as (base, _):
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        private_pg.stop()
        try:
            down = httpx.get(f"{base}/readyz", timeout=20)
            assert down.status_code == 503 and down.json()["reason"].startswith("database")
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        finally:
            private_pg.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/readyz", timeout=20).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(0.5)
