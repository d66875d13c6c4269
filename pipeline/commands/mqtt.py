"""``odczyt mqtt``: broker accounts of a production Mosquitto (see deploy/mosquitto/ and docs/deploy.md).

``add-gateway ID`` / ``add-service ingest|ops NAME`` write the account's password hash and its ACL block;
a generated password is printed once on stdout (instructions go to stderr, so ``$(odczyt mqtt add-gateway …)``
captures only the password). Mosquitto reads both files again on SIGHUP: ``--reload`` sends it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import typer

from core.settings import Settings
from pipeline.mqtt_accounts import KINDS, AccountError, AccountFiles, generate_password

PASSWORD_FILE = Path("/etc/mosquitto/odczyt.passwd")
ACL_FILE = Path("/etc/mosquitto/odczyt.acl")
PID_FILE = Path("/run/mosquitto/mosquitto.pid")

mqtt_app = typer.Typer(help="Mosquitto accounts: gateways, ingest workers, ops consumers.", no_args_is_help=True)

_PASSWORD_FILE = typer.Option(PASSWORD_FILE, "--password-file", help="Mosquitto password_file.")
_ACL_FILE = typer.Option(ACL_FILE, "--acl-file", help="Mosquitto acl_file.")
_STDIN = typer.Option(False, "--password-stdin", help="Read the password from stdin instead of generating one.")
_RELOAD = typer.Option(False, "--reload", help="Send SIGHUP to Mosquitto (the PID in --pid-file) afterwards.")
_PID_FILE = typer.Option(PID_FILE, "--pid-file", help="Mosquitto's pid_file (for --reload).")


def register(app: typer.Typer) -> None:
    """Add the ``mqtt`` command group."""
    app.add_typer(mqtt_app, name="mqtt")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"odczyt mqtt: {message}", err=True)
    return typer.Exit(2)


def _files(password_file: Path, acl_file: Path) -> AccountFiles:
    for path in (password_file, acl_file):
        if not path.parent.is_dir():
            raise _fail(f"directory {path.parent} does not exist (is Mosquitto installed? see docs/deploy.md)")
    return AccountFiles(password_file, acl_file, prefix=Settings().mqtt.topic_prefix)


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """The password to store and whether it was generated here (then it is printed once)."""
    if not from_stdin:
        return generate_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        raise _fail("the password from stdin is shorter than 12 characters")
    return password, False


def reload_broker(pid_file: Path) -> int:
    """SIGHUP to the Mosquitto whose PID is in ``pid_file`` (it re-reads password and ACL files); its PID."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot reload Mosquitto via {pid_file}: {exc}; the files are written, reload it by hand "
                    "(systemctl reload mosquitto)") from None
    return pid


def _add(kind: str, name: str, password_file: Path, acl_file: Path, from_stdin: bool, reload: bool,
         pid_file: Path) -> None:
    files = _files(password_file, acl_file)
    password, generated = _read_password(from_stdin)
    try:
        existed = files.add(kind, name, password)
    except (AccountError, OSError) as exc:
        raise _fail(str(exc)) from None
    verb = "new password for" if existed else "added"
    typer.echo(f"{verb} {kind} account {name!r} in {password_file} and {acl_file}", err=True)
    if generated:
        typer.echo("its password (shown once, store it in the client's env file as ODCZYT_MQTT__PASSWORD):",
                   err=True)
        typer.echo(password)
    _after_change(reload, pid_file)


def _remove(kind: str, name: str, password_file: Path, acl_file: Path, reload: bool, pid_file: Path) -> None:
    files = _files(password_file, acl_file)
    try:
        files.remove(kind, name)
    except (AccountError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"removed {kind} account {name!r}", err=True)
    _after_change(reload, pid_file)


def _after_change(reload: bool, pid_file: Path) -> None:
    if reload:
        typer.echo(f"Mosquitto (PID {reload_broker(pid_file)}) reloads its accounts", err=True)
    else:
        typer.echo("reload Mosquitto to apply: systemctl reload mosquitto (or kill -HUP its PID, or --reload)",
                   err=True)


@mqtt_app.command("add-gateway")
def add_gateway(gateway_id: str = typer.Argument(..., help="Gateway id (its user name and topic level)."),
                password_stdin: bool = _STDIN, password_file: Path = _PASSWORD_FILE, acl_file: Path = _ACL_FILE,
                reload: bool = _RELOAD, pid_file: Path = _PID_FILE) -> None:
    """A gateway account: publishes only its own frames and status topics, reads its receipts topic."""
    _add("gateway", gateway_id, password_file, acl_file, password_stdin, reload, pid_file)


@mqtt_app.command("remove-gateway")
def remove_gateway(gateway_id: str = typer.Argument(..., help="Gateway id."),
                   password_file: Path = _PASSWORD_FILE, acl_file: Path = _ACL_FILE,
                   reload: bool = _RELOAD, pid_file: Path = _PID_FILE) -> None:
    """Delete a gateway's account (its connected session keeps running until it reconnects)."""
    _remove("gateway", gateway_id, password_file, acl_file, reload, pid_file)


def _service_kind(kind: str) -> str:
    if kind not in KINDS or kind == "gateway":
        raise _fail(f"unknown service kind {kind!r}: use ingest or ops")
    return kind


@mqtt_app.command("add-service")
def add_service(kind: str = typer.Argument(..., help="ingest (reads frames, one per worker) or ops (reads status)."),
                name: str = typer.Argument(..., help="Account name = the worker's client id (ingest)."),
                password_stdin: bool = _STDIN, password_file: Path = _PASSWORD_FILE, acl_file: Path = _ACL_FILE,
                reload: bool = _RELOAD, pid_file: Path = _PID_FILE) -> None:
    """An ingest-worker or ops account (one per connecting process: the broker binds sessions to accounts)."""
    _add(_service_kind(kind), name, password_file, acl_file, password_stdin, reload, pid_file)


@mqtt_app.command("remove-service")
def remove_service(kind: str = typer.Argument(..., help="ingest or ops."), name: str = typer.Argument(...),
                   password_file: Path = _PASSWORD_FILE, acl_file: Path = _ACL_FILE,
                   reload: bool = _RELOAD, pid_file: Path = _PID_FILE) -> None:
    """Delete an ingest or ops account."""
    _remove(_service_kind(kind), name, password_file, acl_file, reload, pid_file)


@mqtt_app.command("list")
def list_accounts(acl_file: Path = _ACL_FILE) -> None:
    """The odczyt accounts of the ACL file."""
    try:
        accounts = AccountFiles(PASSWORD_FILE, acl_file).list()
    except OSError as exc:
        raise _fail(str(exc)) from None
    for account in accounts:
        typer.echo(f"{account.kind}\t{account.name}")
