"""Reading raw frames back for re-decoding, and recording what re-decoding found."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from storage.rows import FrameStatus


@dataclass(frozen=True, slots=True)
class KeptFrame:
    """A stored frame to decode again (identified by digest and first reception time)."""

    frame_digest: bytes
    received_at: datetime
    payload: bytes
    status: FrameStatus
    has_position: bool


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    """The new status of a kept frame after re-decoding."""

    frame_digest: bytes
    received_at: datetime
    status: FrameStatus
    meter_key: int | None
    error: str | None


def kept_frames(conn: psycopg.Connection, *, since: datetime, until: datetime | None = None,
                only_undecoded: bool = True, chunk: int = 2000) -> Iterator[list[KeptFrame]]:
    """Frames first received in ``[since, until)``, oldest first, in chunks (keyset pagination)."""
    last: tuple[datetime, bytes] | None = None
    while True:
        rows = conn.execute(
            "SELECT frame_digest, received_at, payload, status, lat IS NOT NULL FROM raw_frames "
            "WHERE received_at >= %(since)s AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s) "
            "AND (NOT %(undecoded)s OR status <> 0) "
            "AND (%(last_t)s::timestamptz IS NULL OR (received_at, frame_digest) > (%(last_t)s, %(last_d)s)) "
            "ORDER BY received_at, frame_digest LIMIT %(chunk)s",
            {"since": since, "until": until, "undecoded": only_undecoded, "chunk": chunk,
             "last_t": last[0] if last else None, "last_d": last[1] if last else None}).fetchall()
        if not rows:
            return
        yield [KeptFrame(d, t, bytes(p), FrameStatus(s), bool(pos)) for d, t, p, s, pos in rows]
        last = (rows[-1][1], rows[-1][0])


def record_outcomes(conn: psycopg.Connection, *, outcomes: Sequence[FrameOutcome]) -> int:
    """Store the new status (and decoded meter) of re-decoded frames."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE raw_frames SET status = %s, meter_key = coalesce(%s, meter_key), error = %s, "
            "decoded_at = CASE WHEN %s = 0 THEN now() ELSE decoded_at END "
            "WHERE frame_digest = %s AND received_at = %s",
            [(int(o.status), o.meter_key, o.error, int(o.status), o.frame_digest, o.received_at)
             for o in outcomes])
    return len(outcomes)
