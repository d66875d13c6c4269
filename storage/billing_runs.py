"""Billing runs: an immutable snapshot of per-service-point lines for a local-date period and a selection.

Re-running the same period and selection stores version + 1 (the old run stays); :func:`diff` compares a run
with the previous version. Lines are computed by :mod:`core.billing_rules` over :mod:`storage.billing_load`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.billing_rules import Line, Thresholds, billing_line
from storage.billing_load import load_spans, select_service_points, tariff_changes

CHUNK = 2000
LINE_COLUMNS = ("service_point_id", "meters", "opening_m3", "opening_basis", "opening_at", "closing_m3",
                "closing_basis", "closing_at", "consumption_m3", "basis", "tariffs", "legally_valid", "flags")


def compute_lines(conn: psycopg.Connection, service_points: Sequence[str], first: date, last: date, *,
                  th: Thresholds, tariffs: Sequence[tuple[date, str]], history_days: int = 400,
                  now: datetime | None = None) -> Iterator[Line]:
    """The billing line of each service point (loaded in chunks of :data:`CHUNK`)."""
    now = now or datetime.now(UTC)
    for i in range(0, len(service_points), CHUNK):
        for sp, spans, persons in load_spans(conn, service_points[i:i + CHUNK], first, last, history_days):
            yield billing_line(sp, spans, first, last, now=now, th=th, tariffs=tariffs, persons=persons)


def _row(run_id: int, ln: Line) -> tuple[Any, ...]:
    return (run_id, ln.service_point_id, list(ln.meters), ln.opening.value_m3, ln.opening.basis, ln.opening.at,
            ln.closing.value_m3, ln.closing.basis, ln.closing.at, ln.consumption_m3, ln.basis,
            Jsonb(list(ln.tariffs)), ln.legally_valid, list(ln.flags))


def create_run(conn: psycopg.Connection, *, first: date, last: date, selection: dict[str, Any],
               tariffs: Sequence[tuple[date, str]] | None, th: Thresholds, actor: str,
               history_days: int = 400, now: datetime | None = None) -> dict[str, Any]:
    """Compute and store a run in one transaction; returns its header (id, version, lines …)."""
    key = json.dumps(selection, sort_keys=True)
    with conn.transaction():
        used = list(tariffs) if tariffs is not None else tariff_changes(conn)
        sps = select_service_points(conn, selection)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('billing_run:' || %s))", (key,))
        version = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM billing_runs WHERE period_first = %s AND period_last = %s"
            " AND selection_key = %s", (first, last, key)).fetchone()[0]  # type: ignore[index]
        run_id = conn.execute(
            "INSERT INTO billing_runs (period_first, period_last, selection, selection_key, version, tariffs,"
            " settings, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (first, last, Jsonb(selection), key, version,
             Jsonb([[d.isoformat(), n] for d, n in used]), Jsonb(asdict(th)), actor)).fetchone()[0]  # type: ignore[index]
        count = 0
        for i in range(0, len(sps), CHUNK):  # no query may run on the connection during a COPY
            chunk = list(compute_lines(conn, sps[i:i + CHUNK], first, last, th=th, tariffs=used,
                                       history_days=history_days, now=now))
            with conn.cursor().copy(f"COPY billing_lines (run_id, {', '.join(LINE_COLUMNS)}) FROM STDIN") as cp:
                for ln in chunk:
                    cp.write_row(_row(run_id, ln))
            count += len(chunk)
        conn.execute("UPDATE billing_runs SET lines = %s WHERE id = %s", (count, run_id))
    return get_run(conn, run_id) or {}


def get_run(conn: psycopg.Connection, run_id: int) -> dict[str, Any] | None:
    """A run's header, or None."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute("SELECT id, period_first, period_last, selection, version, tariffs, created_by,"
                          " created_at, lines FROM billing_runs WHERE id = %s", (run_id,)).fetchone()
    return row


def lines(conn: psycopg.Connection, run_id: int, *, after: str | None = None,
          limit: int | None = None) -> list[dict[str, Any]]:
    """A run's lines in service point order, keyset-paged (``after`` the last id seen)."""
    sql = (f"SELECT {', '.join(LINE_COLUMNS)} FROM billing_lines WHERE run_id = %s AND service_point_id > %s"
           " ORDER BY service_point_id" + (" LIMIT %s" if limit else ""))
    args: tuple[Any, ...] = (run_id, after or "") + ((limit,) if limit else ())
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return list(cur.execute(sql, args))


def stream_lines(conn: psycopg.Connection, run_id: int, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every line of a run, fetched in keyset batches (bounded memory for exports)."""
    after = None
    while True:
        page = lines(conn, run_id, after=after, limit=batch)
        yield from page
        if len(page) < batch:
            return
        after = page[-1]["service_point_id"]


def diff(conn: psycopg.Connection, run_id: int) -> dict[str, Any] | None:
    """Changes against the previous version of the same period and selection (None: no such run)."""
    head = conn.execute("SELECT period_first, period_last, selection_key, version FROM billing_runs"
                        " WHERE id = %s", (run_id,)).fetchone()
    if head is None:
        return None
    prev = conn.execute("SELECT id FROM billing_runs WHERE period_first = %s AND period_last = %s AND"
                        " selection_key = %s AND version = %s", (*head[:3], head[3] - 1)).fetchone()
    if prev is None:
        return {"previous_run": None, "changed": []}
    rows = conn.execute(
        "SELECT coalesce(n.service_point_id, o.service_point_id), o.consumption_m3, n.consumption_m3,"
        " o.basis, n.basis FROM (SELECT * FROM billing_lines WHERE run_id = %s) n"
        " FULL JOIN (SELECT * FROM billing_lines WHERE run_id = %s) o USING (service_point_id)"
        " WHERE n.consumption_m3 IS DISTINCT FROM o.consumption_m3 OR n.basis IS DISTINCT FROM o.basis"
        " ORDER BY 1", (run_id, prev[0])).fetchall()
    return {"previous_run": prev[0], "changed": [
        {"service_point_id": r[0], "before_m3": r[1], "after_m3": r[2], "before_basis": r[3],
         "after_basis": r[4]} for r in rows]}
