"""``odczyt api-keys create | list | revoke``: API keys for machine clients (billing export, Prometheus, portal).

The key is printed once, on stdout alone (``KEY=$(odczyt api-keys create …)``); only its SHA-256 is stored.
Every change is audited with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal

import psycopg
import typer

from core.errors import UserError
from core.settings import Settings
from pipeline.cli_params import cli_actor, parse_when
from pipeline.commands.db import database_url

RoleName = Literal["admin", "operations", "billing", "crew", "portal"]
_AHEAD = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@contextmanager
def connect() -> Iterator[psycopg.Connection]:
    """An autocommit connection to the configured database (each change runs in its own transaction)."""
    with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
        yield conn


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """``--expires``: a duration ahead (``90d``, ``12h``, ``4w``) or an ISO date/time, which must be in the future."""
    now = now or datetime.now(UTC)
    ahead = _AHEAD.match(text.lower())
    if ahead:
        at = now + timedelta(**{_UNITS[ahead.group(2)]: int(ahead.group(1))})
    else:
        at = parse_when(text, name="--expires")
    if at <= now:
        raise UserError(f"--expires {text!r} is in the past: give a future date or a duration such as 90d")
    return at


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def register(app: typer.Typer) -> None:
    """Add the ``api-keys`` command group."""
    keys = typer.Typer(help="API keys for machine clients (Authorization: Bearer odk_…).", no_args_is_help=True)
    app.add_typer(keys, name="api-keys")

    @keys.command("create")
    def create_cmd(
        name: str = typer.Option(..., "--name", help="Unique name of the client, e.g. billing-export."),
        role: RoleName = typer.Option(..., "--role", help="admin, operations, billing, crew or portal."),
        scope: list[str] = typer.Option(None, "--service-point-scope", help="Restrict to this service point "
                                        "(repeat for several); for portal and crew keys."),
        expires: str = typer.Option(None, "--expires", help="Expiry: a duration (90d) or an ISO date/time."),
    ) -> None:
        """Create a key and print it ONCE (only its hash is kept)."""
        from api.auth_admin import CredentialError, issue_api_key

        expires_at = parse_expiry(expires) if expires else None
        with connect() as conn:
            try:
                key, row = issue_api_key(conn, name=name, role=role, actor=cli_actor(),
                                         service_point_scope=scope or None, expires_at=expires_at)
            except CredentialError as exc:
                raise UserError(str(exc)) from None
        typer.echo(f"API key {row['name']} ({row['role']}, id {row['key_id']}) created; it is shown only now:",
                   err=True)
        typer.echo(key)

    @keys.command("list")
    def list_cmd(all_keys: bool = typer.Option(False, "--all", help="Include revoked keys.")) -> None:
        """Keys with role, scope, expiry and last use (never the secrets)."""
        from storage.auth import list_api_keys

        with connect() as conn:
            rows = list_api_keys(conn, include_revoked=all_keys)
        cols = ("key_id", "name", "role", "service_point_scope", "created_at", "expires_at", "revoked_at",
                "last_used_at")
        typer.echo("\t".join(c.removesuffix("_at").replace("service_point_", "") for c in cols))
        for r in rows:
            typer.echo("\t".join(_fmt(r[c]) for c in cols))

    @keys.command("revoke")
    def revoke_cmd(ident: str = typer.Argument(..., metavar="ID|NAME", help="The key's id or name.")) -> None:
        """Revoke a key: its next request is refused (401)."""
        from api.auth_admin import CredentialError, revoke_api_key

        with connect() as conn:
            try:
                row = revoke_api_key(conn, ident=ident, actor=cli_actor())
            except CredentialError as exc:
                raise UserError(f"{exc}: see odczyt api-keys list") from None
        typer.echo(f"revoked API key {row['name']} (id {row['key_id']})")
