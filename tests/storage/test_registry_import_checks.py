"""CSV import refuses what would break the registry later: keys under another master key, non-finite or absurd
numbers, overlapping installations; the master-key checks a worker runs at start; rewrap of every key."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from core.ids import meter_key
from pipeline.registry_import import CsvImportError, import_meters_csv
from storage import registry
from storage.errors import RegistryError

MASTER = bytes(range(32))
OTHER = bytes(range(1, 33))
HEADER = "manufacturer,meter_id,key_hex,q3_m3h,service_point_id,installed_at,removed_at,initial_m3,lat\n"


def _csv(tmp: Path, body: str, name: str = "m.csv") -> Path:
    path = tmp / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(("cell", "column"), [
    ("inf", "q3_m3h"), ("nan", "q3_m3h"), ("1e308", "q3_m3h"), ("-inf", "q3_m3h"), ("0", "q3_m3h"),
])
def test_non_finite_or_absurd_q3_is_refused(db_url: str, tmp_path: Path, cell: str, column: str) -> None:
    path = _csv(tmp_path, f"APA,00000001,,2.5,,,,,\nAPA,00000002,,{cell},,,,,\n")
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, path, master_key=MASTER)
    assert err.value.errors[0].startswith(f"line 3: {column}:"), err.value.errors
    assert _count(db_url, "meters") == 0


@pytest.mark.parametrize(("column", "row"), [
    ("initial_m3", "APA,00000001,,,SP-1,2026-01-01T00:00Z,,1e308,"),
    ("initial_m3", "APA,00000001,,,SP-1,2026-01-01T00:00Z,,inf,"),
    ("lat", "APA,00000001,,,SP-1,2026-01-01T00:00Z,,0,nan"),
])
def test_non_finite_installation_numbers_are_refused(db_url: str, tmp_path: Path, column: str, row: str) -> None:
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, _csv(tmp_path, row + "\n"), master_key=MASTER)
    assert err.value.errors == [err.value.errors[0]] and err.value.errors[0].startswith(f"line 2: {column}:")


def test_one_meter_at_two_service_points_at_once_is_refused(db_url: str, tmp_path: Path) -> None:
    body = ("APA,00000001,,,SP-1,2026-01-01T00:00Z,,,\n"
            "APA,00000002,,,SP-2,2026-01-01T00:00Z,,,\n"
            "APA,00000001,,,SP-3,2026-03-01T00:00Z,,,\n")  # still at SP-1 (never removed)
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, _csv(tmp_path, body), master_key=MASTER)
    assert len(err.value.errors) == 1
    assert "line 2: installed_at: meter APA 00000001 is installed at SP-1 and SP-3 at once" in err.value.errors[0]
    assert "line 4" in err.value.errors[0]
    assert _count(db_url, "installations") == 0 and _count(db_url, "meters") == 0


def test_two_meters_overlapping_at_one_service_point_against_the_registry(db_url: str, tmp_path: Path) -> None:
    import_meters_csv(db_url, _csv(tmp_path, "APA,00000001,,,SP-1,2026-01-01T00:00Z,2026-06-01T00:00Z,,\n"),
                      master_key=MASTER)
    overlapping = _csv(tmp_path, "APA,00000009,,,SP-1,2026-05-01T00:00Z,,,\n", "b.csv")
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, overlapping, master_key=MASTER)
    assert "line 2: installed_at: meter APA 00000001 and meter APA 00000009 are both installed at SP-1" in str(
        err.value) and "the registry" in str(err.value)
    assert _count(db_url, "installations") == 1
    # a replacement that starts when the old one was removed is no overlap
    import_meters_csv(db_url, _csv(tmp_path, "APA,00000009,,,SP-1,2026-06-01T00:00Z,,,\n", "c.csv"),
                      master_key=MASTER)
    assert _count(db_url, "installations") == 2


def test_key_under_another_master_key_is_refused_with_its_line(db_url: str, tmp_path: Path) -> None:
    import_meters_csv(db_url, _csv(tmp_path, f"APA,00000001,{'11' * 16},,,,,,\n"), master_key=MASTER)
    body = f"APA,00000002,{'22' * 16},,,,,,\nAPA,00000001,{'33' * 16},,,,,,\n"
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, _csv(tmp_path, body, "b.csv"), master_key=OTHER)
    assert err.value.errors[0].startswith("line 3: key_hex: the stored keys of meter APA 00000001 were sealed "
                                          f"under another master key (fingerprint {registry.master_key_id(MASTER)})")
    only_new = _csv(tmp_path, f"APA,00000005,{'44' * 16},,,,,,\n", "c.csv")  # no stored key of its own: still no
    with pytest.raises(CsvImportError, match="line 2: key_hex: the registry's keys were sealed under another"):
        import_meters_csv(db_url, only_new, master_key=OTHER)
    assert _count(db_url, "meter_keys") == 1 and _count(db_url, "meters") == 1
    with psycopg.connect(db_url) as conn:  # the worker's start-up check agrees
        assert registry.check_master_key(conn, master_key=MASTER) == 1
        with pytest.raises(RegistryError, match="is not the master key that sealed 1"):
            registry.check_master_key(conn, master_key=OTHER)
        with pytest.raises(RegistryError, match="ODCZYT_MASTER_KEY is not set"):
            registry.check_master_key(conn, master_key=None)


def test_tampered_key_row_is_refused_at_import(db_url: str, tmp_path: Path) -> None:
    import_meters_csv(db_url, _csv(tmp_path, f"APA,00000001,{'11' * 16},,,,,,\n"), master_key=MASTER)
    mk = meter_key("APA", "00000001")
    with psycopg.connect(db_url) as conn:  # a key sealed for another meter's row, copied here
        conn.execute("UPDATE meter_keys SET key_enc = %s WHERE meter_key = %s",
                     (registry.seal_key(MASTER, mk + 1, b"\x11" * 16), mk))
    with pytest.raises(CsvImportError, match="line 2: key_hex: key of meter APA 00000001 does not open"):
        import_meters_csv(db_url, _csv(tmp_path, f"APA,00000001,{'55' * 16},,,,,,\n", "b.csv"), master_key=MASTER)


def test_rewrap_reseals_every_key_and_refuses_a_wrong_old_key(db_url: str, tmp_path: Path) -> None:
    body = "".join(f"APA,0000000{i},{f'{i:02d}' * 16},,,,,,\n" for i in range(1, 4))
    import_meters_csv(db_url, _csv(tmp_path, body), master_key=MASTER)
    with psycopg.connect(db_url) as conn:
        with pytest.raises(RegistryError, match="does not open"), conn.transaction():
            registry.rewrap_keys(conn, old_master=OTHER, new_master=OTHER)
        with conn.transaction():
            assert registry.rewrap_keys(conn, old_master=MASTER, new_master=OTHER) == 3
        ring = registry.load_keyring(conn, master_key=OTHER)
        assert ring.lookup("APA", "00000002") == (b"\x02" * 16,)
        with pytest.raises(RegistryError):
            registry.load_keyring(conn, master_key=MASTER)
        assert registry.check_master_key(conn, master_key=OTHER) == 3


def test_import_with_an_actor_is_one_audit_row_without_keys(db_url: str, tmp_path: Path) -> None:
    key = "ab" * 16
    import_meters_csv(db_url, _csv(tmp_path, f"APA,00000001,{key},,,,,,\n"), master_key=MASTER, actor="cli:tester")
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT actor, action, subject, after::text FROM audit_log").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("cli:tester", "registry.import", "file:m.csv")]
    assert '"keys_added": 1' in rows[0][3] and "APA 00000001" in rows[0][3] and key not in rows[0][3]
