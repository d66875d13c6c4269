"""Every user mistake on the ``odczyt`` command line is one line on stderr and exit 2, never a traceback.

Each case runs ``python -m pipeline …`` in a subprocess with its own environment (no ``ODCZYT_*`` inherited, an
empty working directory): missing settings, an unreachable or unmigrated database, bad dates, unknown names and
enum values, missing files. The processes run a few at a time in one module fixture; each case is its own test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from collectors.driveby_store import DrivebyStore
from storage.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]
MASTER = "00" * 31 + "01"


@dataclass(frozen=True, eq=False)  # hashed by identity: one result per case
class Case:
    """One mistake: the arguments, the environment it runs in, and a phrase the one line must contain."""

    args: tuple[str, ...]
    expect: str
    env: dict[str, str] = field(default_factory=dict)
    db: str | None = None  # "down", "empty" (not migrated), "migrated", or None (ODCZYT_DATABASE_URL unset)


def _c(args: str, expect: str, db: str | None = None, **env: str) -> Case:
    return Case(tuple(args.split()), expect, env, db)


NO_DB = "ODCZYT_DATABASE_URL is not set"
DOWN = "cannot reach PostgreSQL at 127.0.0.1:"
NOT_A_TIME = "is not a time; give an ISO date or time"
DB_COMMANDS = ("db migrate", "db maintain", "db policy", "meters list", "meters import {csv}", "alerts list",
               "alerts ack 1", "alerts dispatch", "analyze", "redecode --since 7d", "keys check", "audit list",
               "api-keys list")
OTHER_AREAS_DOWN = ("alerts resolve 1", "gateways list", "notices list", "users list")  # the same mechanism
CASES = [
    *[_c(cmd, NO_DB if not cmd.startswith(("alerts", "analyze")) else "no database") for cmd in DB_COMMANDS],
    *[_c(cmd, DOWN, db="down") for cmd in DB_COMMANDS],
    *[_c(cmd, DOWN, db="down") for cmd in OTHER_AREAS_DOWN],
    _c("api-keys create --name x --role bogus", "'bogus' is not one of 'admin', 'operations'"),
    _c("alerts subscribe email ops@example.org", DOWN, db="down"),
    _c("keys rewrap", DOWN, db="down", ODCZYT_MASTER_KEY=MASTER, ODCZYT_NEW_MASTER_KEY="11" * 32),
    _c("ingest --metrics-port 0", DOWN, db="down", ODCZYT_MQTT_URL="mqtt://127.0.0.1:1"),
    _c("db migrate", "ODCZYT_DATABASE_URL is not a PostgreSQL URL", ODCZYT_DATABASE_URL="nonsense"),
    _c("alerts list", "no odczyt schema", db="empty"),
    _c("meters list", "run 'odczyt db migrate'", db="empty"),
    _c("meters import {csv}", "no odczyt schema (relation", db="empty"),
    _c("analyze", "no odczyt schema (relation", db="empty"),
    _c("alerts ack 999999", "alert 999999 not found", db="migrated"),
    _c("keys check", "ODCZYT_MASTER_KEY is not set", db="migrated+key"),
    _c("redecode --since 7d", "ODCZYT_MASTER_KEY is not set", db="migrated+key"),
    _c("redecode --since 7d", "is not the master key that sealed 1", db="migrated+key", ODCZYT_MASTER_KEY=MASTER),
    _c("keys rewrap", "ODCZYT_MASTER_KEY is not set", db="migrated"),
    _c("keys rewrap", "no new master key", db="migrated", ODCZYT_MASTER_KEY=MASTER),
    _c("keys rewrap --new-master-key-file /nonexistent/new.key", "cannot open /nonexistent/new.key",
       db="migrated", ODCZYT_MASTER_KEY=MASTER),
    _c("keys rewrap", "the new master key is the current one", db="migrated", ODCZYT_MASTER_KEY=MASTER,
       ODCZYT_NEW_MASTER_KEY=MASTER),
    _c("alerts subscribe webhook http://127.0.0.1:9/hook", "set ODCZYT_MASTER_KEY", db="migrated"),
    _c("billing run --from 2026-10-01 --to 2026-10-31", NO_DB),
    _c("billing run --from 2026-10-01 --to 2026-10-31", DOWN, db="down"),
    _c("billing export 1", DOWN, db="down"),
    # bad dates
    _c("billing validate --since yesterday", NOT_A_TIME),
    _c("billing run --from 2026-13-01 --to 2026-10-31", "'2026-13-01' is not a date (YYYY-MM-DD"),
    _c("analyze --since yesterday", NOT_A_TIME),
    _c("analyze --now tomorrow", NOT_A_TIME),
    _c("redecode --since yesterday", NOT_A_TIME),
    _c("redecode --since 2026-13-45", NOT_A_TIME),
    _c("redecode --since 2026-02-01 --until 2026-01-01", "is not after --since"),
    # unknown names and enum values
    _c("alerts list --state bogus", "'bogus' is not one of 'open', 'acknowledged', 'resolved'"),
    _c("alerts subscribe pigeon somewhere", "'pigeon' is not one of 'webhook', 'email'"),
    _c("alerts subscribe email a@b --min-severity huge", "'huge' is not one of 'info', 'warning', 'critical'"),
    _c("db policy bogus_key", "unknown policy 'bogus_key': give one of readings_retention"),
    _c("receivers listen bogus /dev/null", "unknown receiver 'bogus'"),
    _c("collect --receiver bogus --port /dev/null", "unknown receiver 'bogus'"),
    _c("collect --receiver im871a --port /dev/ttyNOPE9", "--port /dev/ttyNOPE9 does not exist"),
    _c("collect --protocol 4", "'4' is not one of '5', '3.1.1', 'auto'"),
    _c("driveby run --route {route} --port /dev/ttyNOPE9", "--port /dev/ttyNOPE9 does not exist"),
    _c("receivers listen im871a /dev/null --link-mode ZZ", "iM871A: link mode 'ZZ' not supported"),
    _c("receivers probe /dev/ttyNOPE9", "could not open port /dev/ttyNOPE9"),
    _c("nosuchcommand", "No such command 'nosuchcommand'"),
    _c("db migrate --bogus", "No such option: --bogus"),
    _c("decode", "give a telegram hex or --jsonl FILE"),
    # missing files
    _c("decode --jsonl /nonexistent/in.jsonl", "cannot open /nonexistent/in.jsonl: No such file or directory"),
    _c("meters import /nonexistent/m.csv", "'/nonexistent/m.csv' does not exist"),
    _c("driveby run --route /nonexistent/r.csv --port /dev/null", "route /nonexistent/r.csv"),
    _c("driveby report --store nope.sqlite", "no drive-by session store at nope.sqlite"),
    _c("driveby sync --store nope.sqlite", "no drive-by session store at nope.sqlite"),
    _c("driveby sync --store {store} --mqtt-url mqtt://127.0.0.1:{closed}", "cannot reach the MQTT broker at "
       "127.0.0.1:"),
    _c("driveby sync --store {store} --mqtt-url http://host/", "--mqtt-url is not a broker URL"),
    # configuration
    _c("--config /nonexistent/odczyt.env db migrate", "config file /nonexistent/odczyt.env does not exist"),
    _c("db migrate", "config file /nonexistent/o.env does not exist", ODCZYT_ENV_FILE="/nonexistent/o.env"),
    _c("db migrate", "bad setting ODCZYT_INGEST__BATCH_SIZE", ODCZYT_INGEST__BATCH_SIZE="many"),
    _c("redecode --since 7d", "ODCZYT_MASTER_KEY is not hexadecimal", db="down", ODCZYT_MASTER_KEY="zz"),
    _c("redecode --since 7d", "ODCZYT_MASTER_KEY has 2 bytes", db="down", ODCZYT_MASTER_KEY="abcd"),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Places:
    """Databases and files the cases refer to."""

    urls: dict[str, str]
    fmt: dict[str, str]


@pytest.fixture(scope="module")
def places(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("cli-errors")
    names = {"empty": f"cli_err_empty_{os.getpid()}", "migrated": f"cli_err_migr_{os.getpid()}"}
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    urls = {k: pg_server.url_for(v) for k, v in names.items()}
    migrate(urls["migrated"])
    with psycopg.connect(urls["migrated"]) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (1, 'APA', '00000001')")
        conn.execute("INSERT INTO meter_keys (meter_key, key_no, key_enc, master_key_id) VALUES (1, 1, '\\x00', 'x')")
    urls["migrated+key"] = urls["migrated"]
    urls["down"] = f"postgresql://odczyt:pw@127.0.0.1:{_closed_port()}/odczyt"
    (tmp / "m.csv").write_text("manufacturer,meter_id\nAPA,00000001\n")
    (tmp / "r.csv").write_text("meter_id,address,lat,lon\n12345678,Długa 1,52.2,21.0\n")
    DrivebyStore(tmp / "s.sqlite").close()
    try:
        yield Places(urls, {"csv": str(tmp / "m.csv"), "store": str(tmp / "s.sqlite"), "closed": str(_closed_port()),
                           "route": str(tmp / "r.csv")})
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(case: Case, places: Places, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}
    env["PYTHONPATH"] = str(ROOT)
    if case.db is not None:
        env["ODCZYT_DATABASE_URL"] = places.urls[case.db]
    env.update(case.env)
    args = [a.format(**places.fmt) for a in case.args]
    try:
        return subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:  # that case fails alone
        return subprocess.CompletedProcess(exc.cmd, -9, str(exc.stdout or ""), f"timed out: {exc.stderr!r}")


@pytest.fixture(scope="module")
def results(places: Places, tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> dict[Case, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("cwd")  # no .env here
    selected = {id(item.callspec.params["case"]) for item in request.session.items
                if hasattr(item, "callspec") and "case" in item.callspec.params}  # only what this run asks for
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case: pool.submit(_run, case, places, cwd) for case in CASES if id(case) in selected}
    return {case: f.result() for case, f in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c.args) + (f" [{c.db}]" if c.db else "") for c in CASES])
def test_user_mistake_is_one_line_and_exit_2(case: Case, results: dict[Case, subprocess.CompletedProcess[str]],
                                             places: Places) -> None:
    proc = results[case]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("odczyt: error: ")]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    assert len(errors) == 1 and proc.stderr.strip() == errors[0], proc.stderr
    assert case.expect in errors[0], errors[0]
    assert "pw@" not in proc.stderr and MASTER not in proc.stderr  # no secret echoed


def test_every_command_module_is_exercised() -> None:
    """A command group added later gets at least one case here (or is named as not needing one)."""
    exercised = {c.args[0] for c in CASES} | {c.args[2] for c in CASES if c.args[0] == "--config"}
    group = {"analyze-actions": "alerts"}
    not_here = {"demo", "serve", "users", "mqtt"}  # demo needs no settings; the others are tested by their areas
    modules = {p.stem.replace("_", "-") for p in (ROOT / "pipeline" / "commands").glob("*.py")
               if not p.stem.startswith("_")}
    missing = {group.get(m, m) for m in modules} - exercised - not_here
    assert not missing, f"no CLI error case for: {sorted(missing)}"


def test_version_and_help_exit_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--version"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("odczyt ") and proc.stderr == ""


def test_config_file_is_read_from_any_working_directory(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "odczyt.env"
    conf.parent.mkdir()
    conf.write_text("ODCZYT_DATABASE_URL=postgresql://odczyt:pw@127.0.0.1:1/odczyt\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODCZYT_")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for extra, args in (({}, ["--config", str(conf), "meters", "list"]),
                        ({"ODCZYT_ENV_FILE": str(conf)}, ["meters", "list"])):
        proc = subprocess.run([sys.executable, "-m", "pipeline", *args], env={**env, **extra}, cwd=elsewhere,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "cannot reach PostgreSQL at 127.0.0.1:1 " in proc.stderr, proc.stderr
