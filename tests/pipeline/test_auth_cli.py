"""``odczyt api-keys`` / ``users`` / ``audit`` round trips against a migrated database, through the CLI entry point."""

from __future__ import annotations

import io
import json
import warnings
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from pipeline.cli import run
from pipeline.commands.api_keys import parse_expiry

with warnings.catch_warnings():  # starlette asks for httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.services


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``cli(*args, stdin=None) -> (exit code, stdout, stderr)`` with ODCZYT_DATABASE_URL = the test's database."""
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.delenv("ODCZYT_ENV_FILE", raising=False)

    def call(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_api_keys_create_list_revoke(db_url: str, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("api-keys", "create", "--name", "billing-export", "--role", "billing", "--expires", "90d")
    assert code == 0, err
    key = out.strip()
    assert key.startswith("odk_") and "shown only now" in err
    code, out, _ = cli("api-keys", "create", "--name", "portal-1", "--role", "portal",
                       "--service-point-scope", "SP-1", "--service-point-scope", "SP-2")
    assert code == 0
    code, out, _ = cli("api-keys", "list")
    assert code == 0 and "billing-export\tbilling" in out and "SP-1,SP-2" in out
    assert key.split("_")[-1] not in out  # never the secret
    with TestClient(create_app(db_url, registry=CollectorRegistry()),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/v1/meters").status_code == 200
        assert cli("api-keys", "revoke", "billing-export")[0] == 0
        assert client.get("/v1/meters").status_code == 401
    code, out, _ = cli("api-keys", "list", "--all")
    assert "billing-export" in out and cli("api-keys", "list")[1].count("billing-export") == 0
    # user mistakes: one line, exit 2
    for args in (("api-keys", "revoke", "billing-export"), ("api-keys", "create", "--name", "x", "--role", "root"),
                 ("api-keys", "create", "--name", "portal-1", "--role", "portal"),
                 ("api-keys", "create", "--name", "y", "--role", "billing", "--expires", "2001-01-01")):
        code, out, err = cli(*args)
        assert code == 2, (args, out, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    code, out, _ = cli("audit", "list", "--action", "api_key.*")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["api_key.revoke", "api_key.create", "api_key.create"]
    assert all(line.split("\t")[1].startswith("cli:") for line in lines)


def test_users_add_passwd_disable_list(db_url: str, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("users", "add", "anna", "--role", "operations", "--password-stdin", stdin="a long password\n")[0] == 0
    code, _, err = cli("users", "add", "anna", "--role", "billing", "--password-stdin", stdin="another one!\n")
    assert code == 2 and "exists" in err
    code, _, err = cli("users", "add", "bob", "--role", "billing", "--password-stdin", stdin="short\n")
    assert code == 2 and "8 characters" in err
    with TestClient(create_app(db_url, registry=CollectorRegistry())) as client:
        assert client.post("/v1/session", json={"name": "anna", "password": "a long password"}).status_code == 200
        assert cli("users", "passwd", "anna", "--password-stdin", stdin="the new password\n")[0] == 0
        assert client.post("/v1/session", json={"name": "anna", "password": "a long password"}).status_code == 401
        assert client.post("/v1/session", json={"name": "anna", "password": "the new password"}).status_code == 200
        assert cli("users", "disable", "anna")[0] == 0
        assert client.post("/v1/session", json={"name": "anna", "password": "the new password"}).status_code == 401
    code, out, _ = cli("users", "list")
    assert code == 0 and "anna\toperations" in out and "argon2" not in out
    assert cli("users", "disable", "nobody")[0] == 2
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE name = 'anna'").fetchone()
    assert stored is not None and stored[0].startswith("$argon2id$")
    code, out, _ = cli("audit", "list", "--json", "--limit", "1")
    newest = json.loads(out)
    assert code == 0 and newest["action"] == "user.disable" and newest["after"]["disabled_at"]
    code, out, _ = cli("audit", "list", "--subject", "user:anna")
    assert [line.split("\t")[2] for line in out.strip().splitlines()] == ["user.disable", "user.passwd", "user.add"]


def test_parse_expiry() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_expiry("90d", now=now) == now + timedelta(days=90)
    assert parse_expiry("2027-01-01", now=now) == datetime(2027, 1, 1, tzinfo=UTC)
