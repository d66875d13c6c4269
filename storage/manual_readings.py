"""Manual readings (customer, crew, staff) and staff edits of radio readings; SQL only, audited by the caller's
transaction through :func:`storage.audit.record`. The photo is stored as ``bytea`` in ``manual_readings``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.billing_rules import MeterSpan, Sample, Thresholds, validate
from storage.billing_load import load_spans

_COLS = ("id, service_point_id, meter_key, taken_at, value_m3, source, status, reasons, actor, created_at,"
         " decided_by, decided_at, decision_reason, photo IS NOT NULL AS has_photo")


def meter_at(conn: psycopg.Connection, service_point_id: str, at: datetime,
             history_days: int) -> tuple[int | None, MeterSpan | None]:
    """The meter key and span (samples up to ``at``) installed at the service point at ``at``."""
    day = at.date()
    for _, spans, _ in load_spans(conn, [service_point_id], day - timedelta(days=1), day, history_days):
        for span in spans:
            if span.installed_at <= at and (span.removed_at is None or span.removed_at > at):
                key = conn.execute("SELECT meter_key FROM installations WHERE service_point_id = %s AND "
                                   "installed_at = %s", (service_point_id, span.installed_at)).fetchone()
                samples = tuple(s for s in span.samples if s.at <= at)
                return (key[0] if key else None), MeterSpan(**{**_fields(span), "samples": samples})
    return None, None


def _fields(span: MeterSpan) -> dict[str, Any]:
    return {f: getattr(span, f) for f in MeterSpan.__dataclass_fields__}


def previous_valid(span: MeterSpan, now: datetime, th: Thresholds) -> Sample | None:
    """The last valid register of the span (installation's initial value if it has no reading)."""
    valid = [s for s in validate(span, now, th) if s.valid and s.at >= span.installed_at]
    if valid:
        return valid[-1]
    return Sample(span.installed_at, span.initial_m3, "manual:crew")


def insert(conn: psycopg.Connection, **row: Any) -> dict[str, Any]:
    """Store one manual reading (``service_point_id, meter_key, taken_at, value_m3, source, status, reasons,
    photo, photo_type, actor``); returns it."""
    names = ", ".join(row)
    marks = ", ".join(f"%({k})s" for k in row)
    with conn.cursor(row_factory=dict_row) as cur:
        got = cur.execute(f"INSERT INTO manual_readings ({names}) VALUES ({marks}) RETURNING {_COLS}", row).fetchone()
    assert got is not None
    return got


def get(conn: psycopg.Connection, reading_id: int) -> dict[str, Any] | None:
    """One manual reading, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLS} FROM manual_readings WHERE id = %s", (reading_id,)).fetchone()


def pending(conn: psycopg.Connection, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Readings waiting for staff, oldest first (keyset on id)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(f"SELECT {_COLS} FROM manual_readings WHERE status = 'needs_verification' "
                                "AND id > %s ORDER BY id LIMIT %s", (after, limit)))


def decide(conn: psycopg.Connection, reading_id: int, *, accept: bool, actor: str,
           reason: str | None) -> dict[str, Any] | None:
    """Accept or reject a pending reading; None when it is not pending."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"UPDATE manual_readings SET status = %s, decided_by = %s, decided_at = now(), decision_reason = %s "
            f"WHERE id = %s AND status = 'needs_verification' RETURNING {_COLS}",
            ("accepted" if accept else "rejected", actor, reason, reading_id)).fetchone()


def reading(conn: psycopg.Connection, meter_key: int, measured_at: datetime) -> dict[str, Any] | None:
    """A stored radio reading by meter and time (the latest edit applied), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT r.meter_key, r.measured_at, r.access_number, r.total_m3,"
            " (SELECT value_m3 FROM reading_edits e WHERE e.meter_key = r.meter_key AND e.measured_at ="
            "  r.measured_at AND e.access_number = r.access_number AND e.action = 'replace' ORDER BY id DESC"
            "  LIMIT 1) AS edited_m3 FROM readings r WHERE r.meter_key = %s AND r.measured_at = %s"
            " ORDER BY r.access_number LIMIT 1", (meter_key, measured_at)).fetchone()


def edit(conn: psycopg.Connection, row: dict[str, Any], *, action: str, value_m3: float | None, reason: str,
         actor: str) -> int:
    """Append a staff edit (replace or confirm) of the reading ``row``; the reading stays as received."""
    got = conn.execute(
        "INSERT INTO reading_edits (meter_key, measured_at, access_number, action, value_m3, original_m3, reason,"
        " actor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (row["meter_key"], row["measured_at"], row["access_number"], action, value_m3, row["total_m3"], reason,
         actor)).fetchone()
    assert got is not None
    return int(got[0])
