"""The hourly and daily rollups on both backends (continuous aggregates or refreshed tables) agree with the
readings, and the dashboard's daily summary reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from core.types import Reading, ReadingSource
from storage.maintenance import maintain
from storage.rollups import daily_summary
from storage.writer import write_batch

T0 = datetime(2026, 3, 27, 12, tzinfo=UTC)  # across the spring DST change in Warsaw (29 March)


def _readings() -> list[Reading]:
    out = []
    for m in range(3):
        for h in range(5 * 24):
            at = T0 + timedelta(hours=h, minutes=7 * m)
            out.append(Reading(meter_id=f"0000000{m + 1}", manufacturer="KAM", measured_at=at, received_at=at,
                               total_m3=100 * m + h * 0.01 * (m + 1), access_number=h % 256,
                               source=ReadingSource.ESTIMATED if h % 10 == 0 else ReadingSource.RADIO))
    return out


def test_rollups_agree_with_the_readings(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, readings=_readings(), dedupe_window_s=120)
        maintain(conn)  # native: refresh the dirty hours; TimescaleDB: real-time aggregation needs nothing
        hourly = conn.execute("SELECT bucket, sum(readings) FROM readings_hourly GROUP BY 1 ORDER BY 1").fetchall()
        want = conn.execute("SELECT date_trunc('hour', measured_at, 'UTC'), count(*) FROM readings "
                            "GROUP BY 1 ORDER BY 1").fetchall()
        assert hourly == want
        daily = conn.execute("SELECT bucket, sum(readings), sum(actual_readings), sum(last_m3 - first_m3) "
                             "FROM readings_daily GROUP BY 1 ORDER BY 1").fetchall()
        want_daily = conn.execute(
            "SELECT date_trunc('day', measured_at, 'Europe/Warsaw') d, count(*), count(*) FILTER (WHERE source <> 3), "
            "sum(mx - mn) FROM (SELECT measured_at, source, meter_key, "
            "max(total_m3) OVER w mx, min(total_m3) OVER w mn FROM readings "
            "WINDOW w AS (PARTITION BY meter_key, date_trunc('day', measured_at, 'Europe/Warsaw'))) x "
            "GROUP BY 1 ORDER BY 1").fetchall()
        assert [r[:3] for r in daily] == [r[:3] for r in want_daily]
        summary = daily_summary(conn, start=daily[1][0], end=daily[4][0])
    assert [s.day for s in summary] == [r[0] for r in daily[1:4]]
    assert all(s.meters == 3 for s in summary)
    # a whole day's use is 24 h × (0.01 + 0.02 + 0.03) m³; the DST day has 23 hours
    assert [round(s.consumption_m3, 6) for s in summary] == [1.44, 1.38, 1.44]
