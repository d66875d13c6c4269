"""Operations-dashboard figures: how many meters are heard, how fresh the data is, what failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class PipelineSummary:
    """One snapshot of the pipeline's health as the database sees it."""

    meters: int
    meters_heard_24h: int
    readings_total: int
    readings_24h: int
    frames_undecoded: int
    dead_letters: int
    last_received_at: datetime | None
    last_committed_lag_s: float | None


_SQL = """
SELECT
  (SELECT count(*) FROM meters),
  (SELECT count(DISTINCT meter_key) FROM readings WHERE received_at > now() - interval '24 hours'),
  (SELECT count(*) FROM readings),
  (SELECT count(*) FROM readings WHERE received_at > now() - interval '24 hours'),
  (SELECT count(*) FROM raw_frames WHERE status <> 0),
  (SELECT coalesce(sum(count), 0) FROM dead_letters),
  (SELECT max(received_at) FROM readings),
  (SELECT extract(epoch FROM now() - max(received_at)) FROM readings)
"""


def pipeline_summary(conn: psycopg.Connection) -> PipelineSummary:
    """Counts and freshness of what the pipeline stored."""
    row = conn.execute(_SQL).fetchone()
    assert row is not None
    return PipelineSummary(
        meters=int(row[0]), meters_heard_24h=int(row[1]), readings_total=int(row[2]),
        readings_24h=int(row[3]), frames_undecoded=int(row[4]), dead_letters=int(row[5]),
        last_received_at=row[6], last_committed_lag_s=float(row[7]) if row[7] is not None else None,
    )
