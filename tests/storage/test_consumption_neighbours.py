"""The fast neighbour search of ``storage.consumption`` (first/last reading, one range scan with bisection, near
probes) finds exactly what one wide probe per boundary finds, around gaps, edges and readings on a boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from core.ids import meter_key
from core.types import Reading, ReadingSource
from pipeline.registry_import import import_meters_csv
from storage import consumption
from storage.writer import write_batch

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("bulk_span_days", [400, 0])  # range scan + bisection; near probes, then wide ones
def test_neighbours_match_one_wide_probe_per_boundary(db_url: str, tmp_path: Path, bulk_span_days: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumption, "_BULK_SPAN", timedelta(days=bulk_span_days))
    (tmp_path / "m.csv").write_text("manufacturer,meter_id\nKAM,00000001\n")
    import_meters_csv(db_url, tmp_path / "m.csv", master_key=None)
    times = [T0 + timedelta(hours=h) for h in range(48)]  # hourly, then a 10-day gap, then irregular
    times += [T0 + timedelta(days=12, minutes=7 * i, microseconds=i) for i in range(30)]
    readings = [Reading(meter_id="00000001", manufacturer="KAM", measured_at=t, received_at=t, total_m3=i * 0.5,
                        source=ReadingSource.ESTIMATED if i % 5 == 0 else ReadingSource.RADIO)
                for i, t in enumerate(times)]
    bounds = sorted({T0 - timedelta(days=3), T0, T0 + timedelta(hours=5), times[47], times[50],
                     *(T0 + timedelta(hours=7 * i, minutes=3) for i in range(60)), T0 + timedelta(days=40)})
    params = {"ts": bounds, "k": meter_key("KAM", "00000001"), "lo": T0 - timedelta(days=30),
              "hi": T0 + timedelta(days=60)}
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=readings)
        fast = consumption._neighbours(conn, params)
        wide = {row[0]: tuple(row) for row in conn.execute(consumption._AROUND, {**params, "near": consumption._WIDE})}
    assert {t: tuple(v) for t, v in fast.items()} == wide
    assert fast[times[47]][1] == times[47] == fast[times[47]][4]  # a reading on the boundary is both neighbours
    assert fast[T0 - timedelta(days=3)][1] is None and fast[T0 + timedelta(days=40)][4] is None
