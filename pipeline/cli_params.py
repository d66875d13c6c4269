"""Option types and checks the ``odczyt`` commands share, so a user mistake becomes one clear line.

* :func:`when` (a typer ``parser=``) / :func:`parse_when`: a point in time given as an ISO date
  (``2026-11-01``), an ISO time (``2026-11-01T06:00``, ``…Z``, ``…+01:00``; without a zone it is UTC),
  ``now``, or an age such as ``30m``, ``24h``, ``7d``, ``2w`` (that long before now). Anything else is refused
  with the accepted forms listed.
* Enum options are annotated ``Literal[...]`` (``state: Literal["open", "all"]``): typer then refuses other
  values, listing the valid ones.
* :func:`require_reachable`: a quick TCP connect to a service a command is about to use, refused with a line
  that names the host, the port and the setting to check.
"""

from __future__ import annotations

import getpass
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from core.errors import UserError

WHEN_FORMS = "an ISO date or time (2026-11-01, 2026-11-01T06:00Z), 'now', or an age like 30m, 24h, 7d, 2w"
_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None, name: str = "time") -> datetime:
    """A timezone-aware UTC time from ``text`` (see the module docstring); :class:`UserError` otherwise."""
    value = text.strip()
    now = now or datetime.now(UTC)
    if value.lower() == "now":
        return now
    age = _AGE.match(value.lower())
    if age:
        return now - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(f"{name}: {text!r} is not a time; give {WHEN_FORMS}") from None
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def when(value: str) -> datetime:
    """A typer ``parser=`` for time options: :func:`parse_when` or a usage error (one line, exit 2)."""
    if isinstance(value, datetime):
        return value
    try:
        return parse_when(str(value))
    except UserError:
        raise typer.BadParameter(f"{value!r} is not a time; give {WHEN_FORMS}") from None


def require_reachable(host: str, port: int, *, what: str, setting: str, timeout_s: float = 3.0) -> None:
    """Raise :class:`UserError` unless a TCP connection to ``host:port`` opens within ``timeout_s``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise UserError(f"cannot reach {what} at {host}:{port} ({reason}): is it running? check {setting}")


def cli_actor() -> str:
    """The audit actor of a command run from a shell: ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli:unknown"


def require_device(option: str, device: str | None) -> None:
    """A ``/dev/…`` path that does not exist is a mistake, not a receiver to wait for: :class:`UserError`."""
    if device and device.startswith("/dev/") and not Path(device).exists():
        raise UserError(f"{option} {device} does not exist: is the receiver plugged in? see "
                        "'ls /dev/serial/by-id/' or 'odczyt receivers probe PORT'")
