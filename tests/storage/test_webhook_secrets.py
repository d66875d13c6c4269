"""Webhook signing secrets are sealed with the master key (migration 051): never in the table in plain text,
opened only when a message is claimed, legacy plain secrets sealed by `odczyt db migrate`, rewrapped with keys."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from pipeline.cli import run
from storage import alerts_outbox as outbox
from storage.errors import RegistryError

MASTER = bytes(range(32))
OTHER = bytes(range(1, 33))
_alerts = itertools.count(1)
SECRET = "correct-horse-battery-staple-0123456789"


def _table_bytes(conn: psycopg.Connection) -> bytes:
    """Every column of every subscription, as the database would dump it."""
    rows = conn.execute("SELECT alert_subscriptions::text FROM alert_subscriptions").fetchall()
    return "\n".join(r[0] for r in rows).encode()


def _claim_secret(conn: psycopg.Connection, sub_id: int, master: bytes | None) -> str | None:
    """Queue one message for ``sub_id`` and claim it as a dispatcher with ``master`` would."""
    n = next(_alerts)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO alerts (kind, subject, severity, dedupe_key, detected_at) "
                    "VALUES ('burst', %s, 'critical', 'x', now()) RETURNING id", (f"m:{n}",))
        alert_id = cur.fetchone()[0]  # type: ignore[index]
        cur.execute("INSERT INTO alert_outbox (subscription_id, alert_id, event, payload) "
                    "VALUES (%s, %s, 'raised', '{}')", (sub_id, alert_id))
    (row,) = outbox.claim_due(conn, now=datetime.now(UTC) + timedelta(seconds=1), master_key=master)
    return row["subscription"]["secret"]  # type: ignore[no-any-return]


def test_secret_is_sealed_and_opens_only_with_the_master_key(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        sub_id = outbox.add_subscription(conn, channel="webhook", target="http://x/", secret=SECRET,
                                         master_key=MASTER)
        dump = _table_bytes(conn)
        assert SECRET.encode() not in dump and SECRET.encode().hex().encode() not in dump
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("SELECT secret, secret_enc FROM alert_subscriptions").fetchone()
        assert row is not None and row["secret"] is None and len(row["secret_enc"]) == 12 + len(SECRET) + 16
        assert _claim_secret(conn, sub_id, MASTER) == SECRET
        assert _claim_secret(conn, sub_id, OTHER) is None  # wrong key: not sent (never unsigned)
        with pytest.raises(RegistryError, match="ODCZYT_MASTER_KEY"):
            outbox.add_subscription(conn, channel="webhook", target="http://y/", master_key=None)
        generated = outbox.add_subscription(conn, channel="webhook", target="http://z/", master_key=MASTER)
        secret = _claim_secret(conn, generated, MASTER)
        assert secret is not None and len(secret) >= 40  # one was generated


def test_legacy_plain_secrets_are_sealed_by_db_migrate_and_rewrapped(db_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO alert_subscriptions (channel, target, secret) VALUES ('webhook', 'http://a/', %s)",
                     (SECRET,))
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.delenv("ODCZYT_MASTER_KEY", raising=False)
    assert run(["db", "migrate"]) == 0
    assert "1 webhook secret(s) still in plain text" in capsys.readouterr().err
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    assert run(["db", "migrate"]) == 0
    assert "sealed 1 plain-text webhook secret(s)" in capsys.readouterr().out
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert SECRET.encode() not in _table_bytes(conn) and outbox.plain_secret_count(conn) == 0
        (sub,) = outbox.list_subscriptions(conn)
        assert _claim_secret(conn, sub["id"], MASTER) == SECRET
        with pytest.raises(RegistryError), conn.transaction():
            outbox.rewrap_secrets(conn, old_master=OTHER, new_master=MASTER)
        with conn.transaction():
            assert outbox.rewrap_secrets(conn, old_master=MASTER, new_master=OTHER) == 1
        assert _claim_secret(conn, sub["id"], OTHER) == SECRET
