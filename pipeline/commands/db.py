"""``odczyt db migrate | maintain | policy``: the database schema and its storage policies."""

from __future__ import annotations

import typer

from core.errors import ConfigError, UserError
from core.settings import Settings


def check_database_url(url: str, *, source: str = "ODCZYT_DATABASE_URL") -> str:
    """``url`` if psycopg can parse it, else a :class:`ConfigError` naming ``source`` (the URL is not echoed: it
    may hold a password)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except ProgrammingError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "unparsable"
        raise ConfigError(f"{source} is not a PostgreSQL URL ({reason.split(':')[0]}): give "
                          "postgresql://user:password@host:5432/dbname") from None
    return url


def database_url(settings: Settings) -> str:
    """The configured database URL or a clear error."""
    if settings.database_url is None:
        raise ConfigError("ODCZYT_DATABASE_URL is not set: export it (postgresql://user:password@host:5432/dbname) "
                          "or put it in the env file (--config FILE)")
    return check_database_url(settings.database_url.get_secret_value())


def parse_master_key(text: str, *, source: str = "ODCZYT_MASTER_KEY") -> bytes:
    """A 32-byte master key from 64 hex digits, or a :class:`ConfigError` naming ``source`` (never the value)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"{source} is not hexadecimal: give 64 hex digits (32 bytes), "
                          "e.g. from 'openssl rand -hex 32'") from None
    if len(key) != 32:
        raise ConfigError(f"{source} has {len(key)} bytes: give 64 hex digits (32 bytes)")
    return key


def master_key_bytes(settings: Settings) -> bytes | None:
    """The configured master key (``ODCZYT_MASTER_KEY``), checked, or None when it is not set."""
    return parse_master_key(settings.master_key.get_secret_value()) if settings.master_key else None


def _seal_plain_secrets(db_url: str, master: bytes | None) -> None:
    """Seal webhook secrets stored in plain text before migration 051 (SQL alone has no key to seal them)."""
    import psycopg

    from storage.alerts_outbox import plain_secret_count, seal_plain_secrets

    with psycopg.connect(db_url) as conn, conn.transaction():
        if master is not None:
            if sealed := seal_plain_secrets(conn, master_key=master):
                typer.echo(f"sealed {sealed} plain-text webhook secret(s) with the master key")
        elif waiting := plain_secret_count(conn):
            typer.echo(f"warning: {waiting} webhook secret(s) still in plain text: run 'odczyt db migrate' again "
                       "with ODCZYT_MASTER_KEY set to seal them", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group."""
    db = typer.Typer(help="Database schema, maintenance and storage policies.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("migrate")
    def migrate_cmd() -> None:
        """Apply pending numbered migrations (idempotent, safe to run concurrently)."""
        from storage.migrate import migrate

        settings = Settings()
        master = master_key_bytes(settings)
        applied = migrate(database_url(settings))
        typer.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
        _seal_plain_secrets(database_url(settings), master)

    @db.command("maintain")
    def maintain_cmd() -> None:
        """Create partitions ahead, apply retention, refresh rollups, purge old dead letters."""
        import psycopg

        from storage.maintenance import maintain

        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            typer.echo(str(maintain(conn)))

    @db.command("policy")
    def policy_cmd(key: str = typer.Argument(None, help="Policy to show or set (omit to list all)."),
                   value: str = typer.Argument(None, help="An interval such as '730 days', or '' for none "
                                                          "(omit to show the policy).")) -> None:
        """Show or set a storage policy (retention, compression, partitions ahead)."""
        import psycopg

        from storage.maintenance import POLICY_KEYS, get_policies, set_policy

        if key is not None and key not in POLICY_KEYS:
            raise UserError(f"unknown policy {key!r}: give one of {', '.join(POLICY_KEYS)}")
        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            if key is not None and value is not None:
                set_policy(conn, key=key, value=value)
            for k, v in sorted(get_policies(conn).items()):
                if key is None or k == key:
                    typer.echo(f"{k} = {v!r}")
