"""Throwaway PostgreSQL and Mosquitto started from the machine's binaries, on free local ports.

Used by ``odczyt demo`` when no database or broker URL is configured, and by the test suite. PostgreSQL's
``initdb`` refuses to run as root, so as root the cluster is created and run as the ``postgres`` user
through ``runuser``. Both servers live in one data directory and are stopped on exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from core.errors import OdczytError


class EmbeddedServiceError(OdczytError):
    """An embedded server could not be found, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f} s")


def _let_postgres_through(path: Path) -> None:
    """As root the cluster runs as ``postgres``, which must be able to traverse every parent directory.

    Private temporary directories (``mkdtemp``, pytest's ``tmp_path``) are mode 0700; those below the system
    temp dir are ours, so they get the execute bit for others. Anywhere else a clear error beats initdb's.
    """
    tmp_root = Path(tempfile.gettempdir()).resolve()
    for parent in [path.resolve(), *path.resolve().parents]:
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH:
            continue
        if tmp_root in parent.parents:
            os.chmod(parent, mode | stat.S_IXOTH)
        else:
            raise EmbeddedServiceError(
                f"{parent} is not traversable by the postgres user; put the data directory elsewhere")


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise EmbeddedServiceError("PostgreSQL server binaries not found (apt-get install postgresql)")


def _mosquitto_bin() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if not found:
        raise EmbeddedServiceError("mosquitto not found (apt-get install mosquitto)")
    return found


def timescaledb_installed(bindir: Path | None = None) -> bool:
    """True when the TimescaleDB library is installed for the server in ``bindir`` (``pg_config --pkglibdir``)."""
    pg_config = (bindir or _pg_bindir()) / "pg_config"
    if not pg_config.exists():
        return False
    proc = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and bool(glob.glob(os.path.join(proc.stdout.strip(), "timescaledb*.so")))


class EmbeddedPostgres:
    """A private PostgreSQL cluster in ``base_dir/pg`` listening on 127.0.0.1:``port``.

    ``timescaledb``: preload the TimescaleDB library (telemetry off) — None (default) does so when it is
    installed, False never (a native-backend server), True requires it.
    """

    def __init__(self, base_dir: Path, port: int | None = None, *, durable: bool = False,
                 timescaledb: bool | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.data_dir = self.base_dir / "pg"
        self.port = port or free_port()
        self.durable = durable
        self.bindir = _pg_bindir()
        self._as_postgres = os.geteuid() == 0
        installed = timescaledb_installed(self.bindir) if timescaledb is not False else False
        if timescaledb and not installed:
            raise EmbeddedServiceError("TimescaleDB is not installed for this PostgreSQL (no timescaledb*.so in "
                                       "pg_config --pkglibdir)")
        self.timescaledb = installed

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise EmbeddedServiceError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        return proc

    def start(self) -> EmbeddedPostgres:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:  # on a restart too: pytest resets its temp root to 0700 when another run starts
            _let_postgres_through(self.base_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if self._as_postgres:
                shutil.chown(self.data_dir, "postgres", "postgres")
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")
            self._write_conf()
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"),
                  "-o", f"-p {self.port}", "-w", "-t", "60", "start")
        wait_for_port(self.port)
        return self

    def _write_conf(self) -> None:
        extra = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.data_dir}'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "max_wal_size = 2GB",
            "log_min_messages = warning",
        ]
        if not self.durable:
            extra += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        if self.timescaledb:
            extra += ["shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off",
                      "timescaledb.max_background_workers = 16", "max_worker_processes = 32"]
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n# odczyt embedded\n" + "\n".join(extra) + "\n")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            if self._as_postgres:
                _let_postgres_through(self.base_dir)
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedMosquitto:
    """A private Mosquitto in ``base_dir/mqtt`` with the shipped no-loss config, on 127.0.0.1:``port``."""

    def __init__(self, base_dir: Path, port: int | None = None, *, extra_conf: tuple[str, ...] = (),
                 base_conf: str | None = None, own_listener: bool = True) -> None:
        self.dir = Path(base_dir) / "mqtt"
        self.port = port or free_port()
        self.extra_conf = extra_conf  # appended after the listener line (TLS files, password_file, …)
        self.base_conf = base_conf  # instead of the shipped no-loss config (e.g. the production one, rendered)
        self.own_listener = own_listener  # False: base_conf declares the listeners (one of them on ``port``)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_conf(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        base = self.base_conf or resources.files("pipeline").joinpath("mosquitto.conf").read_text(encoding="utf-8")
        conf = self.dir / "mosquitto.conf"
        listener = [f"listener {self.port} 127.0.0.1"] if self.own_listener else []
        lines = [base, *listener, f"persistence_location {self.dir}/",
                 f"log_dest file {self.dir}/mosquitto.log", "log_type error", "log_type warning",
                 *self.extra_conf]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf

    def start(self) -> EmbeddedMosquitto:
        conf = self._write_conf()
        self._proc = subprocess.Popen([_mosquitto_bin(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, start_new_session=True)
        try:
            wait_for_port(self.port, timeout_s=15)
        except EmbeddedServiceError:
            dead = self._proc.poll() is not None and self._proc.stderr is not None
            err = self._proc.stderr.read().decode(errors="replace") if dead and self._proc.stderr else ""
            self.stop()
            raise EmbeddedServiceError(f"mosquitto did not start: {err.strip()[-500:]}") from None
        return self

    def stop(self, *, hard: bool = False) -> None:
        """Stop the broker (SIGTERM saves the persistence file; ``hard`` sends SIGKILL)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedMosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
