"""Small query helpers every storage module shares."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def dict_rows(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Every row of ``sql`` as a dict keyed by column name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, params).fetchall())
