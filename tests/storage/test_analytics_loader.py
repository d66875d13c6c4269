"""storage.analytics: ADBC and psycopg readers return the same frame with the explicit schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core import schemas
from storage import analytics

pytestmark = pytest.mark.services
T0 = datetime(2025, 3, 3, tzinfo=UTC)


def test_loader_and_rules_share_one_schema_contract() -> None:
    assert analytics.READINGS_SCHEMA is schemas.READINGS_SCHEMA  # storage loads what alerts read
    assert set(schemas.READINGS_SCHEMA) >= {"meter_key", "measured_at", "total_m3", "alarms", "source"}


def test_adbc_and_psycopg_load_the_same_readings(db_url: str) -> None:
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY readings (meter_key, measured_at, received_at, total_m3, flow_m3h, alarms, source) FROM STDIN"
        ) as copy,
    ):
        for key in (2, 1):
            for i in range(5):
                at = T0 + timedelta(hours=i)
                copy.write_row((key, at, at, 10.0 + i, None if i else 0.5, i, 1))
    fast = analytics.load_readings(db_url, since=T0 + timedelta(hours=1))
    slow = analytics.load_readings_psycopg(db_url, since=T0 + timedelta(hours=1))
    assert fast.schema == analytics.READINGS_SCHEMA
    assert fast.height == 8 and fast["meter_key"].to_list()[:4] == [1, 1, 1, 1]
    assert fast.sort("meter_key", "measured_at").equals(slow.sort("meter_key", "measured_at"))
    assert fast["measured_at"][0] == T0 + timedelta(hours=1)


def test_empty_tables_give_typed_empty_frames(db_url: str) -> None:
    assert analytics.load_readings(db_url).schema == analytics.READINGS_SCHEMA
    assert analytics.load_meters(db_url).schema == analytics.METERS_SCHEMA
    assert analytics.load_points(db_url).schema == analytics.POINTS_SCHEMA
    assert analytics.load_last_heard(db_url).height == 0
