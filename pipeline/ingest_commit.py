"""Commit an ingest batch so that one row the database refuses never costs the others.

:func:`commit_batch` writes the batch in one transaction; when the database refuses it as data (not an outage:
:class:`~storage.errors.TransientStorageError` is raised for the caller to retry), the batch is bisected —
each half written in its own transaction — down to the single rows it refuses, which are kept as dead letters
(reason ``storage_error``) with what the row held. A dead letter the database still refuses is retried as an
outage, never dropped. Redelivery and re-writing are safe: the writer's merge drops what is already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from hashlib import blake2b

from core.wire_frames import clean_text
from pipeline.ingest_batch import Batch
from storage.errors import StorageError, TransientStorageError
from storage.rows import DeadLetter

log = logging.getLogger(__name__)

Row = tuple[object, ...]
# write(reading_rows, frame_rows, dead_letters) -> readings inserted; raises StorageError / TransientStorageError
Write = Callable[[Sequence[Row], Sequence[Row], Sequence[DeadLetter]], int]
_Item = tuple[str, object]  # ("r", reading row) | ("f", frame row) | ("d", dead letter)


def commit_batch(write: Write, batch: Batch) -> int:
    """Write ``batch`` (bisecting it when the database refuses some of its rows); readings inserted."""
    frame_rows = batch.frame_rows()
    try:
        return write(batch.reading_rows, frame_rows, batch.dead)
    except TransientStorageError:
        raise
    except StorageError as exc:
        log.warning("batch refused (%s); bisecting its %d rows", clean_text(str(exc))[:300],
                    len(batch.reading_rows) + len(frame_rows) + len(batch.dead))
    items: list[_Item] = ([("r", r) for r in batch.reading_rows] + [("f", f) for f in frame_rows]
                          + [("d", d) for d in batch.dead])
    return _bisect(write, items, batch)


def _bisect(write: Write, items: list[_Item], batch: Batch) -> int:
    if not items:
        return 0
    try:
        return _write_items(write, items)
    except TransientStorageError:
        raise
    except StorageError as exc:
        if len(items) > 1:
            middle = len(items) // 2
            return _bisect(write, items[:middle], batch) + _bisect(write, items[middle:], batch)
        _refuse(write, items[0], str(exc), batch)
        return 0


def _write_items(write: Write, items: list[_Item]) -> int:
    readings = [row for kind, row in items if kind == "r"]
    frames = [row for kind, row in items if kind == "f"]
    dead = [d for kind, d in items if kind == "d"]
    return write(readings, frames, dead)  # type: ignore[arg-type]  # the kinds say which is which


def _refuse(write: Write, item: _Item, reason: str, batch: Batch) -> None:
    """Keep a row the database refused as a dead letter (a refused dead letter: its text cleaned)."""
    kind, row = item
    detail = clean_text(f"{reason}")[:1000]
    if kind == "d":
        assert isinstance(row, DeadLetter)
        letter = DeadLetter(digest=row.digest, topic=clean_text(row.topic), reason=clean_text(row.reason),
                            detail=clean_text(row.detail)[:1000] or detail, payload=row.payload,
                            seen_at=row.seen_at)
    else:
        assert isinstance(row, tuple)
        payload = row[4] if kind == "f" and isinstance(row[4], bytes) else clean_text(repr(row)).encode()
        letter = DeadLetter(digest=blake2b(payload, digest_size=16).digest(), topic="",
                            reason="storage_error", detail=f"{'frame' if kind == 'f' else 'reading'}: {detail}",
                            payload=payload, seen_at=datetime.now(UTC))
        batch.counts["dead:storage_error"] += 1
    log.error("row refused by the database, kept as a dead letter: %s", detail[:300])
    try:
        write((), (), [letter])
    except TransientStorageError:
        raise
    except StorageError as exc:  # even the cleaned dead letter: retry as an outage, never drop it
        raise TransientStorageError(f"dead letter refused: {exc}") from exc
