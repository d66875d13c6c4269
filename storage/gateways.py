"""Gateway registry (migration 020): state from the status topic, heartbeat history, and radio coverage.

``record_online`` / ``record_offline`` upsert one gateway from its status document (already parsed by the
caller) and return the state it had before, so the caller acts on transitions only. Coverage comes from
``raw_frames``: every reception keeps the gateway, RSSI and time, so which meters a gateway hears, and the
best (strongest median RSSI) and usual (most frames) gateway of each meter, are one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.ids import split_meter_key
from storage.sql import dict_rows as _rows

_COLUMNS = (
    "id, state, reason, first_seen_at, last_seen_at, last_heartbeat_at, state_changed_at, heartbeat_s, uptime_s, "
    "frames_per_min, spool_depth, spool_max, spool_dropped, receiver, link_mode, firmware, mqtt_protocol, lat, lon"
)
_FIGURES = ("heartbeat_s", "uptime_s", "frames_per_min", "spool_depth", "spool_max", "spool_dropped", "receiver",
            "link_mode", "firmware", "mqtt_protocol", "lat", "lon")


def _previous_state(conn: psycopg.Connection, gateway_id: str) -> str | None:
    row = conn.execute("SELECT state FROM gateways WHERE id = %s FOR UPDATE", (gateway_id,)).fetchone()
    return row[0] if row else None


def record_online(
    conn: psycopg.Connection, *, gateway_id: str, at: datetime, figures: dict[str, Any],
    watchdog_resets: int | None, status: dict[str, Any], history_hours: float = 24.0,
    sample_at: datetime | None = None,
) -> str | None:
    """A heartbeat: the gateway is online with ``figures`` (keys of ``_FIGURES``); returns the previous state.

    Keeps one heartbeat sample per ``sample_at`` (the document's own time, default ``at``) for the degradation
    rule, pruned to ``history_hours``: several ingest workers reading the same heartbeat store one sample.
    """
    before = _previous_state(conn, gateway_id)
    values = {k: figures.get(k) for k in _FIGURES}
    cols = ", ".join(_FIGURES)
    placeholders = ", ".join(f"%({k})s" for k in _FIGURES)
    updates = ", ".join(f"{k} = coalesce(EXCLUDED.{k}, gateways.{k})" for k in _FIGURES)
    conn.execute(
        f"""INSERT INTO gateways (id, state, last_seen_at, last_heartbeat_at, state_changed_at, status, {cols})
            VALUES (%(id)s, 'online', %(at)s, %(at)s, %(at)s, %(status)s, {placeholders})
            ON CONFLICT (id) DO UPDATE SET state = 'online', reason = NULL,
                last_seen_at = greatest(gateways.last_seen_at, EXCLUDED.last_seen_at),
                last_heartbeat_at = greatest(gateways.last_heartbeat_at, EXCLUDED.last_heartbeat_at),
                state_changed_at = CASE WHEN gateways.state = 'online' THEN gateways.state_changed_at
                                        ELSE EXCLUDED.state_changed_at END,
                status = EXCLUDED.status, {updates}""",
        {"id": gateway_id, "at": at, "status": Jsonb(status), **values},
    )
    conn.execute(
        "INSERT INTO gateway_heartbeats (gateway_id, at, spool_depth, watchdog_resets, frames_per_min) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (gateway_id, sample_at or at, values["spool_depth"], watchdog_resets, values["frames_per_min"]),
    )
    conn.execute("DELETE FROM gateway_heartbeats WHERE gateway_id = %s AND at < %s",
                 (gateway_id, at - timedelta(hours=history_hours)))
    return before


def record_offline(
    conn: psycopg.Connection, *, gateway_id: str, at: datetime, reason: str, status: dict[str, Any] | None = None
) -> str | None:
    """The gateway is offline (``reason``: 'lost', 'stopped', 'no heartbeat'); returns the previous state."""
    before = _previous_state(conn, gateway_id)
    conn.execute(
        """INSERT INTO gateways (id, state, reason, last_seen_at, state_changed_at, status)
           VALUES (%(id)s, 'offline', %(reason)s, %(at)s, %(at)s, coalesce(%(status)s, '{}'::jsonb))
           ON CONFLICT (id) DO UPDATE SET state = 'offline', reason = EXCLUDED.reason,
               last_seen_at = CASE WHEN %(status)s IS NULL THEN gateways.last_seen_at
                                   ELSE greatest(gateways.last_seen_at, EXCLUDED.last_seen_at) END,
               state_changed_at = CASE WHEN gateways.state = 'offline' THEN gateways.state_changed_at
                                       ELSE EXCLUDED.state_changed_at END,
               status = coalesce(%(status)s, gateways.status)""",
        {"id": gateway_id, "at": at, "reason": reason, "status": Jsonb(status) if status is not None else None},
    )
    return before


def set_position(conn: psycopg.Connection, *, gateway_id: str, lat: float, lon: float) -> bool:
    """Record where a gateway is mounted (a heartbeat without a position keeps it); False if unknown."""
    cur = conn.execute("UPDATE gateways SET lat = %s, lon = %s WHERE id = %s", (lat, lon, gateway_id))
    return bool(cur.rowcount)


def last_heartbeat_at(conn: psycopg.Connection, *, gateway_id: str) -> datetime | None:
    """When the newest heartbeat of ``gateway_id`` was (None: never, or unknown gateway)."""
    row = conn.execute("SELECT last_heartbeat_at FROM gateways WHERE id = %s", (gateway_id,)).fetchone()
    return row[0] if row else None


def heartbeat_history(conn: psycopg.Connection, *, gateway_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` heartbeat samples, oldest first."""
    rows = _rows(conn, "SELECT at, spool_depth, watchdog_resets, frames_per_min FROM gateway_heartbeats "
                       "WHERE gateway_id = %s ORDER BY at DESC LIMIT %s", (gateway_id, limit))
    return rows[::-1]


def online_gateways(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Gateways currently online (the caller checks whose heartbeat is overdue)."""
    return _rows(conn, f"SELECT {_COLUMNS} FROM gateways WHERE state = 'online'")


def list_gateways(conn: psycopg.Connection, *, state: str | None = None, limit: int | None = None,
                  after: str | None = None) -> list[dict[str, Any]]:
    """Every gateway with its newest figures and open alert count, by id (``after``: keyset position)."""
    sql = (f"SELECT {_COLUMNS}, (SELECT count(*) FROM alerts a WHERE a.gateway_id = g.id "
           "AND a.state IN ('open', 'acknowledged')) AS open_alerts FROM gateways g "
           "WHERE (%(state)s::text IS NULL OR state = %(state)s) AND (%(after)s::text IS NULL OR id > %(after)s) "
           "ORDER BY id LIMIT %(limit)s")
    return _rows(conn, sql, {"state": state, "after": after, "limit": limit})


def get_gateway(conn: psycopg.Connection, *, gateway_id: str) -> dict[str, Any] | None:
    """One gateway with its newest status document."""
    rows = _rows(conn, f"SELECT {_COLUMNS}, status FROM gateways WHERE id = %s", (gateway_id,))
    return rows[0] if rows else None


_RECEPTIONS = """
WITH rx AS (
    SELECT f.meter_key, r.gw, r.rssi, r.at
      FROM raw_frames f CROSS JOIN LATERAL unnest(f.gateways, f.rssi_dbm, f.heard_at) AS r(gw, rssi, at)
     WHERE f.received_at >= %(since)s AND f.meter_key IS NOT NULL AND {which}
), per AS (
    SELECT meter_key, gw, count(*) AS frames, max(rssi) AS max_rssi_dbm, max(at) AS last_heard_at,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rssi) AS median_rssi_dbm
      FROM rx GROUP BY meter_key, gw
), ranked AS (
    SELECT per.*, count(*) OVER w AS gateways,
           rank() OVER (PARTITION BY meter_key ORDER BY frames DESC, gw) = 1 AS usual,
           rank() OVER (PARTITION BY meter_key ORDER BY median_rssi_dbm DESC NULLS LAST, gw) = 1 AS best
      FROM per WINDOW w AS (PARTITION BY meter_key)
)
SELECT r.meter_key, m.manufacturer, m.meter_id, r.gw AS gateway_id, r.frames, r.median_rssi_dbm, r.max_rssi_dbm,
       r.last_heard_at, r.gateways, r.usual, r.best
  FROM ranked r LEFT JOIN meters m ON m.meter_key = r.meter_key
"""


def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Meters heard but not registered are named from their key (manufacturer + id are what the radio sent)."""
    for r in rows:
        if r["manufacturer"] is None:
            r["manufacturer"], r["meter_id"] = split_meter_key(r["meter_key"])
            r["registered"] = False
        else:
            r["registered"] = True
    return rows


def gateway_meters(
    conn: psycopg.Connection, *, gateway_id: str, now: datetime, days: float = 7.0, limit: int = 10_000,
    after: tuple[float, int] | None = None,
) -> list[dict[str, Any]]:
    """Meters ``gateway_id`` heard in the last ``days``: frames, median/max RSSI, how many gateways hear each,
    and whether this gateway is the meter's usual (most frames) and best (strongest median RSSI) one.

    Strongest first; ``after`` is the keyset position ``(rssi_sort_key(row), meter_key)`` of the previous page."""
    which = ("f.meter_key IN (SELECT meter_key FROM raw_frames WHERE received_at >= %(since)s "
             "AND %(gw)s = ANY(gateways) AND meter_key IS NOT NULL)")
    sql = _RECEPTIONS.format(which=which) + f" WHERE r.gw = %(gw)s AND {_AFTER.format(tie='r.meter_key')} " \
        f"ORDER BY {_RSSI_KEY} DESC, r.meter_key LIMIT %(limit)s"
    a_rssi, a_tie = after if after is not None else (None, None)
    return _named(_rows(conn, sql, {"since": now - timedelta(days=days), "gw": gateway_id, "limit": limit,
                                    "a_rssi": a_rssi, "a_tie": a_tie}))


def meter_coverage(
    conn: psycopg.Connection, *, meter_key: int, now: datetime, days: float = 7.0, limit: int | None = None,
    after: tuple[float, str] | None = None,
) -> list[dict[str, Any]]:
    """Every gateway that heard ``meter_key`` in the last ``days``, best first (usual and best marked);
    ``after`` is the keyset position ``(rssi_sort_key(row), gateway_id)`` of the previous page."""
    sql = _RECEPTIONS.format(which="f.meter_key = %(key)s") + f" WHERE {_AFTER.format(tie='r.gw')} " \
        f"ORDER BY {_RSSI_KEY} DESC, r.gw LIMIT %(limit)s"
    a_rssi, a_tie = after if after is not None else (None, None)
    return _named(_rows(conn, sql, {"since": now - timedelta(days=days), "key": meter_key, "limit": limit,
                                    "a_rssi": a_rssi, "a_tie": a_tie}))


# Receptions come strongest first; a gateway without RSSI figures sorts last. Keyset pages compare this key.
_NO_RSSI = -1.0e6
_RSSI_KEY = f"coalesce(r.median_rssi_dbm, {_NO_RSSI})"
_AFTER = ("(%(a_rssi)s::float8 IS NULL OR " + _RSSI_KEY + " < %(a_rssi)s::float8 OR ("
          + _RSSI_KEY + " = %(a_rssi)s::float8 AND {tie} > %(a_tie)s))")


def rssi_sort_key(row: dict[str, Any]) -> float:
    """The RSSI part of a reception row's keyset position (see :func:`gateway_meters`)."""
    value = row.get("median_rssi_dbm")
    return _NO_RSSI if value is None else float(value)
