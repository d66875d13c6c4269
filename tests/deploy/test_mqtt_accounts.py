"""pipeline.mqtt_accounts and ``odczyt mqtt``: the file formats, CLI mistakes, and the shipped configs agreeing."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import PROD_CONF, REPO
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.mqtt_accounts import AccountError, AccountFiles, acl_lines, hash_password, verify_password

NO_LOSS_KEYS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages", "max_inflight_bytes",
                "max_packet_size", "persistence", "autosave_interval", "autosave_on_changes",
                "persistent_client_expiration", "queue_qos0_messages", "set_tcp_nodelay")


def _settings(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            out.setdefault(key, value)
    return out


def test_production_and_embedded_configs_share_the_no_loss_settings() -> None:
    prod, embedded = _settings(PROD_CONF), _settings(REPO / "pipeline" / "mosquitto.conf")
    assert {k: prod.get(k) for k in NO_LOSS_KEYS} == {k: embedded.get(k) for k in NO_LOSS_KEYS}
    assert prod["max_queued_messages"] == "0" and prod["persistence"] == "true"
    assert prod["allow_anonymous"] == "false" and "password_file" in prod and "acl_file" in prod


def test_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not installed")
    path = tmp_path / "p"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "u", "pässwörd-1"], check=True, capture_output=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    assert theirs.startswith("$7$")
    assert verify_password("pässwörd-1", theirs) and not verify_password("pässwörd-2", theirs)
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("pässwörd-1", salt=salt, iterations=int(theirs.split("$")[2])) == theirs


def test_accounts_are_added_replaced_and_removed_keeping_foreign_lines(tmp_path: Path) -> None:
    files = AccountFiles(tmp_path / "passwd", tmp_path / "acl")
    files.acl.write_text("# written by hand\nuser admin\ntopic readwrite #\n")
    files.passwords.write_text("admin:$7$101$abc$def\n")
    assert files.add("gateway", "gw-1", "first-password") is False
    assert files.add("ingest", "ingest-1", "ingest-password") is False
    assert files.add("gateway", "gw-1", "second-password") is True
    text = files.acl.read_text()
    assert text.startswith("# written by hand\nuser admin\ntopic readwrite #\n")
    assert text.count("user gw-1") == 1 and "topic write odczyt/v1/frames/gw-1" in text
    passwords = dict(line.split(":", 1) for line in files.passwords.read_text().splitlines())
    assert set(passwords) == {"admin", "gw-1", "ingest-1"}
    assert verify_password("second-password", passwords["gw-1"])
    assert [(a.kind, a.name) for a in files.list()] == [("ingest", "ingest-1"), ("gateway", "gw-1")]
    files.remove("gateway", "gw-1")
    assert "gw-1" not in files.acl.read_text() and "gw-1" not in files.passwords.read_text()
    assert "user admin" in files.acl.read_text() and "admin:" in files.passwords.read_text()
    assert oct(files.acl.stat().st_mode & 0o777) == oct(0o644)  # an existing file keeps its mode


def test_names_kinds_and_conflicts_are_refused(tmp_path: Path) -> None:
    files = AccountFiles(tmp_path / "passwd", tmp_path / "acl")
    for bad in ("", "a/b", "gw+", "#", "x" * 65, "-lead", "sp ace"):
        with pytest.raises(AccountError):
            files.add("gateway", bad, "password-123456")
    with pytest.raises(AccountError):
        acl_lines("admin", "x")
    files.add("gateway", "gw-1", "password-123456")
    with pytest.raises(AccountError, match="already a gateway"):
        files.add("ingest", "gw-1", "password-123456")
    with pytest.raises(AccountError, match="no ingest account"):
        files.remove("ingest", "gw-1")
    assert oct(files.passwords.stat().st_mode & 0o777) == oct(0o640)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add-gateway", "bad/id"], None, "not a valid account name"),
    (["add-service", "billing", "x"], None, "unknown service kind"),
    (["add-gateway", "gw-1", "--password-stdin"], "short\n", "shorter than 12"),
    (["remove-gateway", "gw-404"], None, "no gateway account"),
    (["add-gateway", "gw-1", "--reload", "--pid-file", "/nonexistent/pid"], None, "cannot reload"),
])
def test_cli_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: list[str], stdin: str | None,
                                              message: str) -> None:
    result = CliRunner().invoke(app, ["mqtt", *args, "--password-file", str(tmp_path / "p"),
                                      "--acl-file", str(tmp_path / "a")], input=stdin)
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert message in last and "Traceback" not in result.stderr


def test_cli_refuses_a_missing_directory() -> None:
    result = CliRunner().invoke(app, ["mqtt", "add-gateway", "gw-1", "--password-file", "/nonexistent/dir/p",
                                      "--acl-file", "/nonexistent/dir/a"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
