"""Seeding helpers for alert tests against a migrated database: meters, service points, installations, readings."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from core.ids import meter_key


def add_meter(conn: psycopg.Connection, meter_id: str, *, manufacturer: str = "KAM", read_mode: str = "fixed",
              mark: tuple[str, str] | None = None) -> int:
    """One registered meter; returns its key."""
    key = meter_key(manufacturer, meter_id)
    conn.execute(
        "INSERT INTO meters (meter_key, manufacturer, meter_id, q3_m3h, read_mode, legalization_mark_type, "
        "legalization_mark_value) VALUES (%s, %s, %s, 2.5, %s, %s, %s)",
        (key, manufacturer, meter_id, read_mode, mark[0] if mark else None, mark[1] if mark else None),
    )
    return key


def add_point(conn: psycopg.Connection, sp: str, *, area: str = "north", occupied: bool = True) -> None:
    """A service point with an address and a customer reference derived from its id."""
    conn.execute(
        "INSERT INTO service_points (id, address, customer_ref, area, occupied) VALUES (%s, %s, %s, %s, %s)",
        (sp, f"ul. Wodna {sp[-1]}, Kraków", f"C-{sp}", area, occupied),
    )


def install(conn: psycopg.Connection, sp: str, key: int, at: datetime, removed_at: datetime | None = None) -> None:
    """Install meter ``key`` at ``sp`` from ``at`` (until ``removed_at``)."""
    conn.execute(
        "INSERT INTO installations (service_point_id, meter_key, installed_at, removed_at) VALUES (%s, %s, %s, %s)",
        (sp, key, at, removed_at),
    )


def add_readings(conn: psycopg.Connection, key: int, start: datetime, use_m3: list[float], total0: float = 100.0,
                 *, alarms: dict[int, int] | None = None, source: int = 0) -> float:
    """Hourly readings from ``start`` (register grows by ``use_m3[i-1]``); returns the last register value."""
    total = total0
    with conn.cursor() as cur, cur.copy(
        "COPY readings (meter_key, measured_at, received_at, total_m3, alarms, source) FROM STDIN"
    ) as copy:
        for i in range(len(use_m3) + 1):
            if i:
                total += use_m3[i - 1]
            at = start + timedelta(hours=i)
            copy.write_row((key, at, at, total, (alarms or {}).get(i, 0), source))
    return total
