"""``odczyt meters import-wmbusmeters DIR``: a wmbusmeters.d folder into the registry, through the CSV import's
checks (keys sealed with the master key, all or nothing, audited)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pipeline.cli import run
from pipeline.wmbusmeters_import import read_folder
from storage.registry import load_keyring

MASTER = bytes(range(32))
KEY = "000102030405060708090a0b0c0d0e0f"


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "wmbusmeters.d"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


GOOD = {
    "Kitchen": f"# the kitchen tap\nname=Kitchen\ndriver=iperl\nid=12345678\nkey={KEY}\n",
    "Garden": "name=Garden\ndriver=multical21\nid=87654321\nkey=NOKEY\nshell=echo hi\n",
    "Cellar": f"name=Cellar\ndriver=izar\nid=11223344\nkey={KEY.upper()}\nmanufacturer=DME\n",
}


def test_reads_files_and_finds_manufacturers(tmp_path: Path) -> None:
    meters = {m.name: m for m in read_folder(_folder(tmp_path, GOOD))}
    assert (meters["Kitchen"].manufacturer, meters["Kitchen"].meter_id, meters["Kitchen"].key_hex) == (
        "SEN", "12345678", KEY)
    assert (meters["Garden"].manufacturer, meters["Garden"].key_hex) == ("KAM", None)
    assert meters["Cellar"].manufacturer == "DME"


def test_import_seals_keys_and_audits(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    assert run(["meters", "import-wmbusmeters", str(_folder(tmp_path, GOOD))]) == 0
    assert "imported 3 meters" in capsys.readouterr().out
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT manufacturer, meter_id, driver FROM meters ORDER BY meter_id").fetchall()
        ring = load_keyring(conn, master_key=MASTER)
        sealed = conn.execute("SELECT count(*) FROM meter_keys").fetchone()
        dump = "".join(r[0] for r in conn.execute("SELECT meter_keys::text FROM meter_keys"))
        audit = conn.execute("SELECT action FROM audit_log WHERE action = 'registry.import'").fetchall()
    assert rows == [("DME", "11223344", "izar"), ("SEN", "12345678", "iperl"), ("KAM", "87654321", "multical21")]
    assert sealed == (2,) and KEY not in dump
    assert bytes.fromhex(KEY) in ring.lookup("SEN", "12345678")
    assert len(audit) == 1


def test_one_bad_file_imports_nothing(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    bad = dict(GOOD, Broken="name=Broken\ndriver=izar\nid=1234*\nkey=xyz\n")
    assert run(["meters", "import-wmbusmeters", str(_folder(tmp_path, bad))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Broken: id='1234*'" in err and "not 32 hex digits" in err
    assert "does not name the manufacturer" in err
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (0,)


def test_keys_without_a_master_key_are_refused(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.delenv("ODCZYT_MASTER_KEY", raising=False)
    assert run(["meters", "import-wmbusmeters", str(_folder(tmp_path, GOOD))]) == 2
    assert "no master key" in capsys.readouterr().err
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (0,)


def test_not_a_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["meters", "import-wmbusmeters", str(tmp_path / "nope"), "--manufacturer", "DME"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_bad_manufacturer_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["meters", "import-wmbusmeters", str(_folder(tmp_path, GOOD)), "--manufacturer", "D1"]) == 2
    assert "not a three-letter code" in capsys.readouterr().err
