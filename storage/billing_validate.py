"""``odczyt billing validate``: run the validation rules over stored readings and keep the result beside each
reading in ``reading_validations`` (keyed by the reading's own key; re-validation replaces the row, the
reading itself is never touched)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from core.billing_rules import MeterSpan, Sample, Thresholds, validate

_READ = """
SELECT r.meter_key, r.measured_at, r.access_number, r.received_at, r.total_m3, r.backward_m3,
       i.installed_at, i.removed_at, m.q3_m3h
  FROM readings r JOIN meters m USING (meter_key)
  LEFT JOIN LATERAL (SELECT installed_at, removed_at FROM installations x WHERE x.meter_key = r.meter_key
                      AND x.installed_at <= r.measured_at ORDER BY installed_at DESC LIMIT 1) i ON true
 WHERE r.meter_key = ANY(%s) AND r.measured_at >= %s AND r.total_m3 IS NOT NULL
 ORDER BY r.meter_key, r.measured_at, r.access_number
"""


def validate_since(conn: psycopg.Connection, since: datetime, th: Thresholds, *, now: datetime,
                   chunk: int = 500) -> tuple[int, int]:
    """Validate every reading from ``since`` on (one day earlier as context); returns (checked, invalid)."""
    keys = [r[0] for r in conn.execute("SELECT meter_key FROM meters ORDER BY meter_key")]
    checked = invalid = 0
    for i in range(0, len(keys), chunk):
        rows = conn.execute(_READ, (keys[i:i + chunk], since - timedelta(days=1))).fetchall()
        out = []
        for key in dict.fromkeys(r[0] for r in rows):
            mine = [r for r in rows if r[0] == key]
            inst = mine[-1][6] or datetime.min.replace(tzinfo=since.tzinfo)
            span = MeterSpan(str(key), inst, mine[-1][7], 0.0, None,
                             tuple(Sample(r[1], r[4], "actual", r[3], r[5]) for r in mine), mine[-1][8])
            for r, s in zip(mine, validate(span, now, th), strict=True):
                if r[1] >= since:
                    out.append((key, r[1], r[2], s.valid, list(s.flags)))
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reading_validations (meter_key, measured_at, access_number, valid, rules) VALUES"
                " (%s, %s, %s, %s, %s) ON CONFLICT (meter_key, measured_at, access_number) DO UPDATE SET"
                " valid = EXCLUDED.valid, rules = EXCLUDED.rules, validated_at = now()", out)
        checked += len(out)
        invalid += sum(1 for o in out if not o[3])
    return checked, invalid
