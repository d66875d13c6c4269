"""``odczyt redecode``: decode kept frames again — after a key arrived or a driver improved.

Readings are written through the same deduplicating writer as live ingest, keyed by the frame's first
reception time, so re-decoding a frame that already produced a reading adds nothing (``replace=True``
overwrites the stored values instead, for a driver fix).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from core.types import Reading
from decoders import CompactFormatCache, DecodeError, KeyMissingError, WrongKeyError, decode
from pipeline.ingest_batch import link_address, meter_key_or_none, to_reading
from storage.frames import FrameOutcome, KeptFrame, kept_frames, record_outcomes
from storage.registry import KeyRing, load_keyring
from storage.rows import FrameStatus
from storage.writer import write_batch


@dataclass(frozen=True, slots=True)
class RedecodeReport:
    """What a re-decoding run did."""

    frames: int
    decoded: int
    still_undecoded: int
    readings_inserted: int


def _one(f: KeptFrame, ring: KeyRing, cache: CompactFormatCache) -> tuple[FrameOutcome, Reading | None]:
    try:
        t = decode(f.payload, ring.lookup, compact_formats=cache)
    except DecodeError as exc:
        # the meter's address (the TPL long header's when the frame has one: a radio module may sit in front
        # of the meter), else the link address
        meter = (exc.manufacturer, exc.meter_id) if exc.manufacturer and exc.meter_id else link_address(f.payload)
        mk = meter_key_or_none(*meter) if meter else None
        if isinstance(exc, KeyMissingError | WrongKeyError):
            status = FrameStatus.KEY_MISSING if isinstance(exc, KeyMissingError) else FrameStatus.WRONG_KEY
            if meter is None or not ring.knows(*meter):
                status = FrameStatus.UNKNOWN_METER
        else:
            status = FrameStatus.DECODE_ERROR
        return FrameOutcome(f.frame_digest, f.received_at, status, mk, f"{exc.layer}: {exc}"[:500]), None
    mk = meter_key_or_none(t.manufacturer, t.meter_id)
    if mk is None or not ring.knows(t.manufacturer, t.meter_id):
        return FrameOutcome(f.frame_digest, f.received_at, FrameStatus.UNKNOWN_METER, mk, None), None
    reading = to_reading(t, f.received_at, driveby=f.has_position)
    return FrameOutcome(f.frame_digest, f.received_at, FrameStatus.DECODED, mk, None), reading


def redecode(db_url: str, *, since: datetime, until: datetime | None = None, master_key: bytes | None,
             all_frames: bool = False, replace: bool = False) -> RedecodeReport:
    """Decode again the frames received since ``since`` (only undecoded ones unless ``all_frames``)."""
    frames = decoded = inserted = 0
    cache = CompactFormatCache()
    with psycopg.connect(db_url, autocommit=True) as read, psycopg.connect(db_url, autocommit=True) as write:
        ring = load_keyring(read, master_key=master_key)
        for chunk in kept_frames(read, since=since, until=until, only_undecoded=not all_frames):
            results = [_one(f, ring, cache) for f in chunk]
            readings = [r for _, r in results if r is not None]
            result = write_batch(write, readings=readings, replace=replace)
            with write.transaction():
                record_outcomes(write, outcomes=[o for o, _ in results])
            frames += len(chunk)
            decoded += len(readings)
            inserted += result.readings_inserted
    return RedecodeReport(frames, decoded, frames - decoded, inserted)
