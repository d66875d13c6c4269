"""``odczyt keys check | rewrap``: the master key that seals meter keys and webhook secrets, and its rotation.

``rewrap`` opens every sealed value (meter AES keys, webhook signing secrets) with the current
``ODCZYT_MASTER_KEY`` and seals it again under the new key, in one transaction: if any value does not open,
nothing changes. The new key comes from ``--new-master-key-file FILE`` (``-`` = stdin) or the
``ODCZYT_NEW_MASTER_KEY`` variable — never from the command line, where it would stay in the shell history.
Afterwards set ``ODCZYT_MASTER_KEY`` to the new key and restart the services: the old key opens nothing.
Workers still running keep decoding with the keys they already hold and log a warning at each key-ring refresh
until they are restarted with the new key; a worker started with the old key refuses to start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from core.errors import ConfigError, UserError
from core.settings import Settings
from pipeline.cli_params import cli_actor
from pipeline.commands.db import database_url, master_key_bytes, parse_master_key


def _new_key(path: Path | None) -> bytes:
    if path is None:
        env = os.environ.get("ODCZYT_NEW_MASTER_KEY")
        if not env:
            raise UserError("no new master key: give --new-master-key-file FILE ('-' for stdin) or set "
                            "ODCZYT_NEW_MASTER_KEY (64 hex digits, e.g. from 'openssl rand -hex 32')")
        return parse_master_key(env, source="ODCZYT_NEW_MASTER_KEY")
    text = sys.stdin.readline() if str(path) == "-" else path.read_text(encoding="utf-8")
    return parse_master_key(text, source=f"the new master key ({'stdin' if str(path) == '-' else path})")


def _current_key(settings: Settings) -> bytes:
    master = master_key_bytes(settings)
    if master is None:
        raise ConfigError("ODCZYT_MASTER_KEY is not set: rewrap needs the current key to open what it sealed")
    return master


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group."""
    keys = typer.Typer(help="The master key: check it, rotate it.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("check")
    def check_cmd() -> None:
        """Check that ODCZYT_MASTER_KEY is the key the registry's meter keys were sealed with."""
        import psycopg

        from storage.registry import check_master_key, master_key_id

        settings = Settings()
        master = master_key_bytes(settings)
        with psycopg.connect(database_url(settings)) as conn:
            sealed = check_master_key(conn, master_key=master)
        fingerprint = master_key_id(master) if master else "none"
        typer.echo(f"{sealed} sealed meter key(s); ODCZYT_MASTER_KEY fingerprint {fingerprint}: OK")

    @keys.command("rewrap")
    def rewrap_cmd(new_master_key_file: Path = typer.Option(
            None, "--new-master-key-file", metavar="FILE",
            help="File holding the new key (64 hex digits); '-' reads stdin. Default: ODCZYT_NEW_MASTER_KEY.")
    ) -> None:
        """Re-seal every meter key and webhook secret under a new master key, all or nothing."""
        import psycopg

        from storage import alerts_outbox, audit, registry

        settings = Settings()
        old, new = _current_key(settings), _new_key(new_master_key_file)
        if new == old:
            raise UserError("the new master key is the current one: generate another ('openssl rand -hex 32')")
        old_id, new_id = registry.master_key_id(old), registry.master_key_id(new)
        with psycopg.connect(database_url(settings)) as conn, conn.transaction():
            registry.check_master_key(conn, master_key=old)
            meter_keys = registry.rewrap_keys(conn, old_master=old, new_master=new)
            secrets = alerts_outbox.rewrap_secrets(conn, old_master=old, new_master=new)
            secrets += alerts_outbox.seal_plain_secrets(conn, master_key=new)
            audit.record(conn, actor=cli_actor(), action="keys.rewrap", subject="master_key",
                         before={"master_key_id": old_id},
                         after={"master_key_id": new_id, "meter_keys": meter_keys, "webhook_secrets": secrets})
        typer.echo(f"re-sealed {meter_keys} meter key(s) and {secrets} webhook secret(s): master key fingerprint "
                   f"{old_id} → {new_id}. Set ODCZYT_MASTER_KEY to the new key and restart the services; the old "
                   "key opens nothing any more.")
