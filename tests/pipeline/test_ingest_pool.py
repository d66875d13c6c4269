"""Decoding in worker processes gives the same batch as decoding in the batch thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest_helpers import KEY, T0, frames_message, telegram

from pipeline.ingest_batch import BatchBuilder, Message
from pipeline.ingest_pool import DecodePool


@dataclass
class _Ring:
    meters: frozenset[tuple[str, str]]
    keys: dict[tuple[str, str], tuple[bytes, ...]]

    def lookup(self, manufacturer: str, meter_id: str) -> tuple[bytes, ...]:
        return self.keys.get((manufacturer, meter_id), ())

    def knows(self, manufacturer: str, meter_id: str) -> bool:
        return (manufacturer, meter_id) in self.meters


def _messages() -> list[bytes]:
    ids = [f"{i:08d}" for i in range(1, 31)]
    items = [(telegram(mid, r), T0 + timedelta(seconds=16 * r, milliseconds=i))
             for r in range(3) for i, mid in enumerate(ids)]
    items += [(telegram("00000099", 1), T0), (telegram("00000007", 1, key=bytes(16)), T0)]  # unknown, wrong key
    items += [(b"\x05\x44\x2d\x2c\x01\x02", T0), items[3]]  # garbage frame, a second reception
    messages = [frames_message("gw-1", items[i:i + 25]) for i in range(0, len(items), 25)]
    return [*messages, frames_message("gw-2", items[:10]), b"not json"]


def _run(pool: DecodePool | None, ring: _Ring) -> list[tuple[object, ...]]:
    builder = BatchBuilder(keyring=ring, dedupe_window_s=120, pool=pool)
    out: list[tuple[object, ...]] = []
    for k, payload in enumerate(_messages()):
        builder.add(Message(k, 1, "t", payload, 0, datetime.now(UTC)))
        if k % 2:
            batch = builder.take()
            out.append((sorted(batch.counts.items()), batch.reading_rows, batch.frame_rows(),
                        [d.reason for d in batch.dead]))
    return out


def test_pool_decoding_equals_in_thread_decoding() -> None:
    ids = [f"{i:08d}" for i in range(1, 31)]
    ring = _Ring(frozenset(("KAM", i) for i in ids), {("KAM", i): (KEY,) for i in ids})
    expected = _run(None, ring)
    pool = DecodePool(2, ring.keys)
    try:
        assert _run(pool, ring) == expected
    finally:
        pool.close()
    counts = dict(c for batch in expected for c in batch[0])
    assert counts.get("undecoded:wrong_key") == 1 and counts.get("undecoded:unknown_meter") == 1
    assert counts.get("undecoded:decode_error") == 1 and counts.get("dead:not_json") == 1


def test_pool_uses_a_refreshed_key_ring() -> None:
    ring = _Ring(frozenset({("KAM", "00000001")}), {})
    pool = DecodePool(1, ring.keys)
    try:
        builder = BatchBuilder(keyring=ring, dedupe_window_s=120, pool=pool)
        builder.add(Message(1, 1, "t", frames_message("gw", [(telegram("00000001", 1), T0)]), 0, T0))
        assert builder.take().counts["undecoded:key_missing"] == 1
        builder.keyring = _Ring(ring.meters, {("KAM", "00000001"): (KEY,)})
        builder.add(Message(2, 1, "t", frames_message("gw", [(telegram("00000001", 2), T0)]), 0, T0))
        assert builder.take().counts["decoded"] == 1
    finally:
        pool.close()


def test_a_killed_decode_process_loses_nothing_and_is_replaced() -> None:
    ids = [f"{i:08d}" for i in range(1, 31)]
    ring = _Ring(frozenset(("KAM", i) for i in ids), {("KAM", i): (KEY,) for i in ids})
    pool = DecodePool(1, ring.keys)
    try:
        builder = BatchBuilder(keyring=ring, dedupe_window_s=120, pool=pool)
        builder.add(Message(1, 1, "t", frames_message("gw", [(telegram(i, 1), T0) for i in ids[:15]]), 0, T0))
        first = pool._processes[0].process
        first.kill()  # mid-batch: its answer for the first message may or may not have been sent
        first.join(5)
        builder.add(Message(2, 1, "t", frames_message("gw", [(telegram(i, 1), T0) for i in ids[15:]]), 0, T0))
        assert builder.take().counts["decoded"] == 30
        builder.add(Message(3, 1, "t", frames_message("gw", [(telegram(i, 2), T0) for i in ids]), 0, T0))
        assert builder.take().counts["decoded"] == 30
        assert pool._processes[0].process is not first and pool._processes[0].process.is_alive()
    finally:
        pool.close()


def test_more_frames_than_the_window_holds_do_not_block() -> None:
    """A message far larger than CHUNK × WINDOW frames: requests and answers keep flowing."""
    ids = [f"{i:08d}" for i in range(1, 3001)]
    ring = _Ring(frozenset(("KAM", i) for i in ids), {("KAM", i): (KEY,) for i in ids})
    pool = DecodePool(1, ring.keys)
    try:
        builder = BatchBuilder(keyring=ring, dedupe_window_s=120, pool=pool)
        builder.add(Message(1, 1, "t", frames_message("gw", [(telegram(i, 1), T0) for i in ids]), 0, T0))
        assert builder.take().counts["decoded"] == 3000
    finally:
        pool.close()
