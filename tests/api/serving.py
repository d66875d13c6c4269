"""Helpers of the API tests (a module of its own so test files can import them): API keys and a real
``odczyt serve`` subprocess on a free local port. The fixtures in ``conftest.py`` wrap them."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import httpx
import psycopg

from api.auth_admin import issue_api_key

ROOT = Path(__file__).resolve().parents[2]
_names = itertools.count()
MakeKey = Callable[..., str]


def auth_headers(key: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``."""
    return {"Authorization": f"Bearer {key}"}


def create_key(db_url: str, role: str, scope: Sequence[str] | None = None, *, name: str | None = None,
               expires_at: datetime | None = None) -> str:
    """A new API key for ``role`` in ``db_url`` (the secret string to send as bearer token)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        key, _ = issue_api_key(conn, name=name or f"test-{role}-{os.getpid()}-{next(_names)}", role=role,
                               actor="test:fixture", service_point_scope=scope, expires_at=expires_at)
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"odczyt serve exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"odczyt serve not ready in {timeout_s} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def run_server(db_url: str, workdir: Path, env: dict[str, str] | None = None, workers: int = 1,
               ready: bool = True, log_level: str = "warning",
               ready_timeout_s: float = 40.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``odczyt serve`` in a subprocess on a free port; yields (base URL, process); output in ``workdir``."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}
    full_env = {**base, "ODCZYT_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), **(env or {})}
    log = workdir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", str(workers), "--log-level", log_level],
                                cwd=workdir, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if ready:
            wait_ready(url, proc, log, ready_timeout_s)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
