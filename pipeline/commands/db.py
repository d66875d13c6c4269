"""``odczyt db migrate | maintain | policy``: the database schema and its storage policies."""

from __future__ import annotations

import typer

from core.errors import ConfigError
from core.settings import Settings


def database_url(settings: Settings) -> str:
    """The configured database URL or a clear error."""
    if settings.database_url is None:
        raise ConfigError("ODCZYT_DATABASE_URL is not set")
    return settings.database_url.get_secret_value()


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group."""
    db = typer.Typer(help="Database schema, maintenance and storage policies.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("migrate")
    def migrate_cmd() -> None:
        """Apply pending numbered migrations (idempotent, safe to run concurrently)."""
        from storage.migrate import migrate

        applied = migrate(database_url(Settings()))
        typer.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))

    @db.command("maintain")
    def maintain_cmd() -> None:
        """Create partitions ahead, apply retention, refresh rollups, purge old dead letters."""
        import psycopg

        from storage.maintenance import maintain

        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            typer.echo(str(maintain(conn)))

    @db.command("policy")
    def policy_cmd(key: str = typer.Argument(None, help="Policy to set (omit to list)."),
                   value: str = typer.Argument(None, help="An interval such as '730 days', or '' for none.")) -> None:
        """Show or set a storage policy (retention, compression, partitions ahead)."""
        import psycopg

        from storage.maintenance import get_policies, set_policy

        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            if key is not None:
                set_policy(conn, key=key, value=value or "")
            for k, v in sorted(get_policies(conn).items()):
                typer.echo(f"{k} = {v!r}")
