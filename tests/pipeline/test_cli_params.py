"""The CLI's shared option parsing and error translation, in process (the subprocess cases are in
test_cli_errors.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.errors import UserError
from pipeline.cli import describe, run
from pipeline.cli_params import parse_when

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T06:30", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("2026-11-01T06:30:00Z", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("2026-11-01T07:30+01:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("now", NOW), ("30m", NOW - timedelta(minutes=30)), ("24h", NOW - timedelta(hours=24)),
    (" 7d ", NOW - timedelta(days=7)), ("2w", NOW - timedelta(weeks=2)),
])
def test_times_accepted(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7 days ago", "-7d", "7y", "", "2026-02-30", "12:00"])
def test_other_times_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(UserError, match=r"is not a time; give an ISO date or time .* 30m, 24h, 7d, 2w"):
        parse_when(text, now=NOW)


def test_bugs_keep_their_traceback() -> None:
    assert describe(KeyError("x")) is None and describe(ZeroDivisionError()) is None
    assert describe(psycopg.errors.SyntaxError("bad SQL")) is None  # our SQL: a bug
    assert describe(psycopg.OperationalError('connection failed: connection to server at "10.0.0.5", port 5433 '
                                             "failed: timeout expired")) == (
        "cannot reach PostgreSQL at 10.0.0.5:5433 (timeout expired): is it running? check ODCZYT_DATABASE_URL")
    assert "refused the connection (password authentication failed" in str(describe(psycopg.OperationalError(
        'connection failed: connection to server at "h", port 1 failed: FATAL:  password authentication failed '
        'for user "x"')))


def test_unexpected_exception_propagates_from_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.commands.db as db

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setenv("ODCZYT_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setattr(db, "master_key_bytes", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        run(["db", "migrate"])


def test_subscribe_prints_a_generated_secret_once(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.setenv("ODCZYT_MASTER_KEY", "ab" * 32)
    assert run(["alerts", "subscribe", "webhook", "http://127.0.0.1:9/hook", "--kind", "burst"]) == 0
    out = capsys.readouterr().out
    secret = out.split("signing secret (shown once, give it to the receiver): ")[1].strip()
    assert len(secret) >= 40
    with psycopg.connect(db_url) as conn:
        dump = "".join(r[0] for r in conn.execute("SELECT alert_subscriptions::text FROM alert_subscriptions"))
        audit = conn.execute("SELECT action, after::text FROM audit_log").fetchall()
    assert secret not in dump and secret.encode().hex() not in dump
    assert audit[0][0] == "alert_subscription.create" and secret not in audit[0][1]
