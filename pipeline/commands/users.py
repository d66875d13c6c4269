"""``odczyt users add | passwd | disable | enable | list``: local users who log in at ``/login``.

Passwords are read from a hidden prompt (typed twice) or, with ``--password-stdin``, from the first line of
standard input; they are stored as argon2id hashes. Changing a password or disabling a user ends their sessions.
"""

from __future__ import annotations

import sys

import typer

from core.errors import UserError
from pipeline.cli_params import cli_actor
from pipeline.commands.api_keys import RoleName, _fmt, connect


def read_password(from_stdin: bool) -> str:
    """The new password from stdin's first line or from a confirmed hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("--password-stdin: standard input had no password on its first line")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group."""
    users = typer.Typer(help="Local users (dashboard login, session cookie).", no_args_is_help=True)
    app.add_typer(users, name="users")
    stdin_opt = typer.Option(False, "--password-stdin", help="Read the password from standard input.")

    @users.command("add")
    def add_cmd(
        name: str = typer.Argument(..., help="Login name (letters, digits, . _ @ -)."),
        role: RoleName = typer.Option(..., "--role", help="admin, operations, billing, crew or portal."),
        scope: list[str] = typer.Option(None, "--service-point-scope", help="Restrict to this service point "
                                        "(repeat for several)."),
        password_stdin: bool = stdin_opt,
    ) -> None:
        """Create a user."""
        from api.auth_admin import CredentialError, add_user

        password = read_password(password_stdin)
        with connect() as conn:
            try:
                add_user(conn, name=name, role=role, password=password, actor=cli_actor(),
                         service_point_scope=scope or None)
            except CredentialError as exc:
                raise UserError(str(exc)) from None
        typer.echo(f"user {name} ({role}) added")

    @users.command("passwd")
    def passwd_cmd(name: str = typer.Argument(...), password_stdin: bool = stdin_opt) -> None:
        """Set a user's password (their sessions end)."""
        from api.auth_admin import CredentialError, set_password

        password = read_password(password_stdin)
        with connect() as conn:
            try:
                set_password(conn, name=name, password=password, actor=cli_actor())
            except CredentialError as exc:
                raise UserError(f"{exc}: see odczyt users list") from None
        typer.echo(f"password of {name} changed; their sessions ended")

    def _set_disabled(name: str, disabled: bool) -> None:
        from api.auth_admin import CredentialError, set_disabled

        with connect() as conn:
            try:
                set_disabled(conn, name=name, disabled=disabled, actor=cli_actor())
            except CredentialError as exc:
                raise UserError(f"{exc}: see odczyt users list") from None

    @users.command("disable")
    def disable_cmd(name: str = typer.Argument(...)) -> None:
        """Disable a user: their sessions end and they cannot log in."""
        _set_disabled(name, True)
        typer.echo(f"user {name} disabled")

    @users.command("enable")
    def enable_cmd(name: str = typer.Argument(...)) -> None:
        """Re-enable a disabled user."""
        _set_disabled(name, False)
        typer.echo(f"user {name} enabled")

    @users.command("list")
    def list_cmd() -> None:
        """Users with role, scope and state (never the hashes)."""
        from storage.auth import list_users

        with connect() as conn:
            rows = list_users(conn)
        cols = ("name", "role", "service_point_scope", "created_at", "password_changed_at", "disabled_at")
        typer.echo("\t".join(c.removesuffix("_at").replace("service_point_", "") for c in cols))
        for r in rows:
            typer.echo("\t".join(_fmt(r[c]) for c in cols))
