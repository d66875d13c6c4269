"""The meter's own stored registers (month-end / billing-date values, ``Telegram.history``) and the historic
alarm flags sent with them, in ``meter_stored_values``: one row per meter and storage date. A billing run uses
them with basis ``meter_stored``. Filled by ``odczyt billing backfill-history`` from kept raw frames (the live
ingest hook is not wired yet)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

import psycopg


class StoredValue(NamedTuple):
    """One meter-stored register: the value at the end of local day ``stored_date``."""

    meter_key: int
    stored_date: date
    value_m3: float
    storage_no: int | None
    alarms: int
    received_at: datetime


def write(conn: psycopg.Connection, rows: Iterable[StoredValue]) -> int:
    """Insert the values not stored yet (the first telegram to carry a date wins); returns how many were new."""
    batch = list(rows)
    if not batch:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO meter_stored_values (meter_key, stored_date, value_m3, storage_no, alarms, received_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (meter_key, stored_date) DO NOTHING", batch,
            returning=False)
        return max(cur.rowcount, 0)
