"""The service point each meter currently serves (for readings published on MQTT, pipeline/readings_publish.py)."""

from __future__ import annotations

from collections.abc import Collection

import psycopg


def current_service_points(conn: psycopg.Connection, meter_keys: Collection[int]) -> dict[int, str]:
    """meter key → service point of its open installation (the latest when several), for the given meters."""
    if not meter_keys:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (meter_key) meter_key, service_point_id FROM installations "
        "WHERE meter_key = ANY(%s) AND removed_at IS NULL ORDER BY meter_key, installed_at DESC",
        (list(meter_keys),),
    ).fetchall()
    return {int(k): str(sp) for k, sp in rows}
