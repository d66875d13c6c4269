"""Storage against a real PostgreSQL: migrations, registry import, writer dedupe, billing, consumption."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from core.ids import meter_key
from core.types import Reading, ReadingSource
from pipeline.registry_import import CsvImportError, import_meters_csv
from storage.legalization import valid_until
from storage.maintenance import maintain
from storage.migrate import migrate
from storage.queries import billing_readings, consumption, meter_readings
from storage.registry import load_keyring
from storage.writer import is_native, write_batch

MASTER = bytes(range(32))
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def test_migrate_twice_applies_nothing_the_second_time(fresh_db_url: str) -> None:
    first = migrate(fresh_db_url)
    assert first and first[0].startswith("001_")
    assert migrate(fresh_db_url) == []
    assert _count(fresh_db_url, "SELECT count(*) FROM schema_migrations") == len(first)


def _csv(tmp: Path, body: str) -> Path:
    path = tmp / "m.csv"
    path.write_text(body)
    return path


def test_csv_import_with_one_bad_line_writes_nothing(db_url: str, tmp_path: Path) -> None:
    path = _csv(tmp_path, "manufacturer,meter_id,key_hex,q3_m3h\nKAM,00000001,"
                + "00" * 16 + ",2.5\nKAM,0000002,,2.5\nKAM,00000003,zz,-1\n")
    with pytest.raises(CsvImportError) as err:
        import_meters_csv(db_url, path, master_key=MASTER)
    assert len(err.value.errors) == 3
    assert "line 3: meter_id" in err.value.errors[0]
    assert _count(db_url, "SELECT count(*) FROM meters") == 0


def test_csv_import_keys_are_sealed_and_rotation_keeps_old_keys(db_url: str, tmp_path: Path) -> None:
    k1, k2 = bytes(16), bytes(range(16))
    import_meters_csv(db_url, _csv(tmp_path, f"manufacturer,meter_id,key_hex\nKAM,00000001,{k1.hex()}\n"),
                      master_key=MASTER)
    import_meters_csv(db_url, _csv(tmp_path, f"manufacturer,meter_id,key_hex\nKAM,00000001,{k2.hex()}\n"),
                      master_key=MASTER)
    with psycopg.connect(db_url) as conn:
        ring = load_keyring(conn, master_key=MASTER)
        stored = conn.execute("SELECT key_enc FROM meter_keys").fetchall()
    assert ring.lookup("KAM", "00000001") == (k2, k1)
    assert all(k1 not in bytes(s) and k2 not in bytes(s) for (s,) in stored)


def _reading(mid: str, at: datetime, total: float, source: ReadingSource = ReadingSource.RADIO,
             access: int = 0, **kw: object) -> Reading:
    return Reading(meter_id=mid, manufacturer="KAM", measured_at=at, received_at=at, total_m3=total,
                   source=source, access_number=access, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["probe", "staging"])
def test_writer_drops_redelivered_and_cross_gateway_duplicates(db_url: str, strategy: str) -> None:
    rows = [_reading("00000001", T0 + timedelta(seconds=16 * i), i * 0.01, access=i) for i in range(50)]
    copy = [_reading("00000001", r.measured_at + timedelta(milliseconds=40), r.total_m3 or 0, access=i)
            for i, r in enumerate(rows)]  # another gateway's copy, heard 40 ms later
    with psycopg.connect(db_url, autocommit=True) as conn:
        first = write_batch(conn, readings=rows, dedupe_window_s=120, strategy=strategy)
        again = write_batch(conn, readings=rows, dedupe_window_s=120, strategy=strategy)
        other = write_batch(conn, readings=copy, dedupe_window_s=120, strategy=strategy)
        assert (first.readings_inserted, again.readings_inserted, other.readings_inserted) == (50, 0, 0)
        report = maintain(conn)
        if is_native(conn):  # TimescaleDB: real-time continuous aggregates, nothing to refresh first
            assert report.rollup_hours >= 1
        assert conn.execute("SELECT sum(readings) FROM readings_hourly").fetchone()[0] == 50  # type: ignore[index]


def test_billing_prefers_the_meters_target_value_for_the_cutoff_date(db_url: str, tmp_path: Path) -> None:
    import_meters_csv(db_url, _csv(tmp_path, "manufacturer,meter_id,legalization_mark_type,legalization_mark_value\n"
                                   "KAM,00000001,mid,M21\nKAM,00000002,,\n"), master_key=MASTER)
    at = datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC)  # 23:59:59 in Warsaw
    rows = [_reading("00000001", at - timedelta(hours=2), 10.0),
            _reading("00000001", at + timedelta(hours=5), 10.5, target_m3=10.1, target_date=date(2026, 11, 30)),
            _reading("00000002", at - timedelta(days=3), 7.0, ReadingSource.ESTIMATED)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=rows)
        out = {b.meter_id: b for b in billing_readings(conn, at=at)}
    assert out["00000001"].total_m3 == 10.0 and out["00000001"].target_m3 == 10.1
    assert out["00000001"].billing_m3 == 10.1 and out["00000001"].basis == "target"
    assert out["00000001"].legally_valid is True  # M21: valid through 30 Nov 2026, the cut-off day
    assert out["00000002"].actual is False and out["00000002"].basis == "reading"


def test_consumption_is_continuous_across_a_meter_replacement(db_url: str, tmp_path: Path) -> None:
    swap = "2026-11-15T12:00:00Z"
    import_meters_csv(db_url, _csv(tmp_path, (
        "manufacturer,meter_id,service_point_id,installed_at,removed_at,initial_m3,final_m3\n"
        f"KAM,00000001,SP-1,2026-01-01T00:00:00Z,{swap},0,134.8\n"
        f"KAM,00000002,SP-1,{swap},,0.5,\n")), master_key=MASTER)
    old = [_reading("00000001", T0 + timedelta(hours=h), 100 + h * 0.1) for h in range(0, 14 * 24 + 12)]
    new = [_reading("00000002", T0 + timedelta(days=14, hours=12 + h), 0.5 + h * 0.1) for h in range(0, 15 * 24)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=old + new)
        days = consumption(conn, service_point="SP-1", start=datetime(2026, 11, 1, tzinfo=UTC),
                           end=datetime(2026, 11, 29, tzinfo=UTC), interval="day")
    swap_day = next(p for p in days if p.start <= datetime(2026, 11, 15, 12, tzinfo=UTC) < p.end)
    assert all(p.consumption_m3 is not None for p in days[1:])
    assert swap_day.consumption_m3 == pytest.approx(2.4, abs=0.05)  # 0.1 m³/h on both meters, no jump
    assert not swap_day.estimated
    assert sum(p.consumption_m3 or 0 for p in days[1:]) == pytest.approx(24 * 0.1 * 27, abs=0.2)


def test_meter_readings_round_trip_core_types(db_url: str) -> None:
    r = _reading("00000001", T0, 1.25, flow_m3h=0.5)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=[r])
        got = meter_readings(conn, meter_key=meter_key("KAM", "00000001"), start=T0, end=T0 + timedelta(1))
    assert got == [r]


@pytest.mark.parametrize(("kind", "value", "until"), [
    ("national_year", "2015", date(2020, 12, 31)), ("expiry", "03.2027", date(2027, 3, 31)),
    ("expiry", "2027", date(2027, 12, 31)), ("mid", "M20", date(2025, 11, 30))])
def test_legalization_validity_per_mark_type(kind: str, value: str, until: date) -> None:
    assert valid_until(kind, value) == until
