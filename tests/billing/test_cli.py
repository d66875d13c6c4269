"""``odczyt billing run|export|validate`` against a migrated database (ODCZYT_DATABASE_URL)."""

from __future__ import annotations

import json

import psycopg
import pytest
from typer.testing import CliRunner

from core.ids import meter_key
from pipeline import cli

KEY = meter_key("KAM", "00000007")


def test_run_export_validate(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (%s, 'KAM', '00000007')", (KEY,))
        conn.execute("INSERT INTO service_points (id) VALUES ('SP-7')")
        conn.execute("INSERT INTO installations VALUES ('SP-7', %s, '2025-01-01Z', NULL, 0, NULL)", (KEY,))
        for at, value in (("2026-10-31T20:00Z", 10.0), ("2026-11-10T20:00Z", 4.0), ("2026-11-30T20:00Z", 12.5)):
            conn.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3) VALUES"
                         " (%s, %s, %s, %s)", (KEY, at, at, value))
    runner = CliRunner()
    res = runner.invoke(cli.app, ["billing", "run", "--from", "2026-11-01", "--to", "2026-11-30"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)
    res = runner.invoke(cli.app, ["billing", "export", str(run["id"]), "--polish"])
    assert res.exit_code == 0 and res.output.splitlines()[1].startswith("SP-7;KAM-00000007;10,0;actual;")
    assert ";2,5;actual;" in res.output and "falling_register" in res.output
    res = runner.invoke(cli.app, ["billing", "validate", "--since", "2026-10-01"])
    assert res.exit_code == 0 and "validated 3 readings, 1 not valid" in res.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT rules FROM reading_validations WHERE NOT valid").fetchall() == [
            (["falling_register"],)]
    assert cli.run(["billing", "run", "--from", "2026-11-31", "--to", "2026-11-30"]) == 2  # one line, exit 2


def test_meter_history_write_and_backfill_command(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, date, datetime

    from storage.meter_history import StoredValue, write

    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    at = datetime(2026, 11, 3, tzinfo=UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id) VALUES (%s, 'KAM', '00000007')", (KEY,))
        rows = [StoredValue(KEY, date(2026, 10, 31), 12.5, 1, 0, at),
                StoredValue(KEY, date(2026, 9, 30), 11.0, 2, 4, at)]
        assert write(conn, rows) == 2
        assert write(conn, [StoredValue(KEY, date(2026, 10, 31), 99.0, 1, 0, at)]) == 0  # the first one stays
        assert conn.execute("SELECT value_m3 FROM meter_stored_values WHERE stored_date = '2026-10-31'").fetchone() == (
            12.5,)
    res = CliRunner().invoke(cli.app, ["billing", "backfill-history", "--since", "2026-01-01"])
    assert res.exit_code == 0 and "0 meter-stored values seen, 0 new" in res.output
