"""The pipeline summary stays cheap on a large table: exact counts while small, the planner's estimate when
large (both backends), and the last-24-hour figures bounded by measurement time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.types import Reading, ReadingSource
from storage import dashboard
from storage.writer import write_batch


def _readings(n_meters: int, hours: int, end: datetime) -> list[Reading]:
    return [Reading(meter_id=f"{m:08d}", manufacturer="KAM", measured_at=end - timedelta(hours=h),
                    received_at=end - timedelta(hours=h), total_m3=100.0 + h / 10, source=ReadingSource.RADIO,
                    access_number=h % 256)
            for m in range(n_meters) for h in range(hours)]


@pytest.mark.parametrize("exact_below", [1_000_000, 0], ids=["exact", "estimated"])
def test_summary_counts_readings_and_the_last_day(db_url: str, exact_below: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=_readings(20, 48, end))  # 960 readings, 480 of them in the last 24 h
        conn.execute("ANALYZE readings")
        monkeypatch.setattr(dashboard, "_EXACT_BELOW", exact_below)
        summary = dashboard.pipeline_summary(conn)
    assert summary.readings_total == 960  # ANALYZE of a small table counts every row: the estimate is exact
    assert summary.readings_24h == 20 * 24 and summary.meters_heard_24h == 20
    assert summary.last_received_at == end
    assert summary.last_committed_lag_s is not None and 290 <= summary.last_committed_lag_s < 400
