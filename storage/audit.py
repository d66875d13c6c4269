"""The audit log: one row per write (actor, time, action, subject, before/after), appended in the writer's transaction.

Call :func:`record` on the same connection and inside the same transaction as the change it describes, so a
rolled-back change leaves no audit row and a committed one always has its row::

    with conn.transaction():
        row = alerts.acknowledge(conn, alert_id=7, at=now, actor=principal.actor)
        audit.record(conn, actor=principal.actor, action="alert.ack", subject="alert:7", before=old, after=row)

``actor`` names the credential ('key:<name>', 'user:<name>', 'oidc:<sub>', 'cli:<os user>'); ``action`` is a
dotted verb ('alert.ack', 'api_key.create', 'user.disable', 'registry.import', 'keys.rewrap' …).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

MAX_LIMIT = 10_000
_COLUMNS = "id, at, actor, action, subject, before, after, request_id"


def _jsonable(value: Any) -> Any:
    """Datetimes, dates and decimals as JSON-friendly values (before/after are often storage rows)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def record(
    conn: psycopg.Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> int:
    """Append one audit row (in the caller's transaction); returns its id. Never pass secrets in before/after."""
    if not actor or not action or not subject:
        raise ValueError("audit.record needs actor, action and subject")
    row = conn.execute(
        "INSERT INTO audit_log (actor, action, subject, before, after, request_id) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (actor, action, subject,
         None if before is None else Jsonb(_jsonable(before)),
         None if after is None else Jsonb(_jsonable(after)), request_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def list_entries(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows newest first (by id), filtered; ``before_id`` is the keyset cursor (rows with a smaller id).

    ``action`` ending in ``.*`` matches a prefix (``alert.*``); ``since`` is inclusive, ``until`` exclusive.
    """
    if not 1 <= limit <= MAX_LIMIT + 1:  # a page's maximum, plus the one row that tells a next page exists
        raise ValueError(f"limit must be 1…{MAX_LIMIT + 1}")
    where: list[str] = []
    params: list[Any] = []
    if actor is not None:
        where.append("actor = %s")
        params.append(actor)
    if action is not None and action.endswith(".*"):
        where.append("starts_with(action, %s)")
        params.append(action[:-1])
    elif action is not None:
        where.append("action = %s")
        params.append(action)
    for clause, value in (("subject = %s", subject), ("at >= %s", since), ("at < %s", until),
                          ("id < %s", before_id)):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = f"SELECT {_COLUMNS} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())
