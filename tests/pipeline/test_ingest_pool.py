"""Decoding in worker processes gives the same batch as decoding in the batch thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ingest_helpers import KEY, T0, frames_message, telegram

from core.ids import meter_key
from core.types import ALARM_BITS, Alarm, Position, RawFrame
from core.wire import encode_frames
from decoders.encoder import backward_volume, billing_date, billing_volume, encode_oms, flow, record, total_volume
from pipeline.ingest_batch import Batch, BatchBuilder, Message
from pipeline.ingest_pool import DecodePool, known_identities, meter_identity
from storage.registry import KeyRing


@dataclass
class _Ring:
    meters: frozenset[tuple[str, str]]
    keys: dict[tuple[str, str], tuple[bytes, ...]]

    def lookup(self, manufacturer: str, meter_id: str) -> tuple[bytes, ...]:
        return self.keys.get((manufacturer, meter_id), ())

    def knows(self, manufacturer: str, meter_id: str) -> bool:
        return (manufacturer, meter_id) in self.meters


def _one_batch(ring: _Ring | KeyRing, processes: int, payloads: list[bytes]) -> Batch:
    """``payloads`` as MQTT messages through a builder decoding in ``processes`` processes (0: in the thread),
    taken as one batch."""
    pool = DecodePool(processes, ring.keys) if processes else None
    try:
        builder = BatchBuilder(keyring=ring, dedupe_window_s=120, pool=pool)
        for k, payload in enumerate(payloads):
            builder.add(Message(k, 1, "t", payload, 0, datetime.now(UTC)))
        return builder.take()
    finally:
        if pool is not None:
            pool.close()


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


@pytest.mark.parametrize("processes", [0, 1])
def test_a_reading_row_carries_every_decoded_value(processes: int) -> None:
    """Billing value and date, backward volume, flow, alarms (Kamstrup info codes: dry and leak), access
    number, a drive-by source and the meter key reach the row, whichever process decoded the frame."""
    info_codes = record(0x02, b"\xff\x20", (0x0005).to_bytes(2, "little"))
    frame = encode_oms("KAM", "00000042", access_number=7, mode=5, key=KEY, frame_format="A",
                       records=[total_volume(12.345), billing_volume(10.5), billing_date(date(2026, 10, 31)),
                                backward_volume(0.25), flow(0.5), info_codes])
    payload = encode_frames("car-1", [RawFrame(payload=frame, received_at=T0, source="car-1", rssi_dbm=-70.0,
                                               position=Position(lat=50.06, lon=19.94))])
    ring = _Ring(frozenset({("KAM", "00000042")}), {("KAM", "00000042"): (KEY,)})
    batch = _one_batch(ring, processes, [payload])
    key = meter_key("KAM", "00000042")
    alarms = ALARM_BITS[Alarm.DRY] | ALARM_BITS[Alarm.LEAK]
    assert batch.reading_rows == [(key, T0, T0, 12.345, 10.5, date(2026, 10, 31), 0.25, 0.5, alarms, 1, 7)]
    (row,) = batch.frame_rows()
    assert row[2] == row[3] == key and row[5] == 0 and row[13] == T0  # link and meter key, decoded at


_IDS = st.text("0123456789abcdefABCDEF", min_size=7, max_size=9)
_PAIRS = st.tuples(st.sampled_from(["KAM", "APA", "kam", "@AB", "ZZZ"]), _IDS)
_REGISTERED = st.tuples(st.sampled_from(["KAM", "APA", "kam", "@AB", "ZZZ"]), _IDS.map(str.upper))


@given(st.lists(_REGISTERED, max_size=6), _PAIRS)
def test_identities_match_exactly_when_the_registry_knows_the_meter(registry: list[tuple[str, str]],
                                                                   meter: tuple[str, str]) -> None:
    """Keys stand for registered meters (ids stored in upper case) exactly as ``KeyRing.knows`` matches them:
    a decoder's lower-case non-BCD id is its registered upper-case twin."""
    ring = KeyRing(frozenset(registry), {})
    assert (meter_identity(*meter) in known_identities(registry)) == ring.knows(*meter)


@pytest.mark.parametrize("processes", [0, 1])
def test_a_meter_with_a_non_bcd_id_is_decoded_with_its_key_and_known(processes: int) -> None:
    ring = KeyRing(frozenset({("KAM", "1A2B3C4D")}), {("KAM", "1A2B3C4D"): (KEY,)})  # as the registry stores it
    batch = _one_batch(ring, processes, [frames_message("gw-1", [(telegram("1A2B3C4D", 1), T0)])])
    assert [r[0] for r in batch.reading_rows] == [meter_key("KAM", "1A2B3C4D")]


def _with_m_field(frame: bytes, m_field: bytes) -> bytes:
    """``frame`` (CRC-less, starting at L) with another M-field, as format A with valid CRCs."""
    from core.dll import add_format_a_crcs

    return add_format_a_crcs(frame[:2] + m_field + frame[4:])


@pytest.mark.parametrize("processes", [0, 1])
def test_a_frame_whose_address_has_no_meter_key_is_kept_not_a_crash(processes: int) -> None:
    plain = encode_oms("KAM", "00000001", access_number=1, records=[total_volume(1.5)])
    frames = [_with_m_field(plain, b"\x00\x00"),  # "@@@": decodes, but no meter key spells it
              _with_m_field(plain, b"\xff\x7f"),  # "___"
              telegram("00000001", 1)]
    ring = _Ring(frozenset({("KAM", "00000001")}), {("KAM", "00000001"): (KEY,)})
    batch = _one_batch(ring, processes, [frames_message("gw-1", [(f, T0) for f in frames])])
    rows = batch.frame_rows()
    assert len(rows) == 3 and len(batch.reading_rows) == 1  # the KAM telegram only
    assert batch.reading_rows[0][0] == meter_key("KAM", "00000001")
    odd = [r for r in rows if r[3] is None]
    assert len(odd) == 2 and all(r[2] is None for r in odd)  # neither a link key nor a meter key
    assert batch.counts["undecoded:unknown_meter"] == 2


@pytest.mark.parametrize("processes", [0, 1])
def test_a_bug_on_one_frame_or_message_is_kept_and_the_batch_goes_on(processes: int, monkeypatch) -> None:
    from pipeline import ingest_batch
    from storage.rows import FrameStatus

    bad_frame = telegram("00000002", 1)
    real_apply, real_frame = ingest_batch.BatchBuilder._apply, ingest_batch.BatchBuilder._frame

    def apply(self, batch, p, outcome):  # type: ignore[no-untyped-def]
        if p.payload == bad_frame:
            raise RuntimeError("boom")
        return real_apply(self, batch, p, outcome)

    def frame(self, item, gateway):  # type: ignore[no-untyped-def]
        if gateway == "gw-bad":
            raise KeyError("bug")
        return real_frame(self, item, gateway)

    monkeypatch.setattr(ingest_batch.BatchBuilder, "_apply", apply)
    monkeypatch.setattr(ingest_batch.BatchBuilder, "_frame", frame)
    ids = ("00000001", "00000002")
    ring = _Ring(frozenset(("KAM", i) for i in ids), {("KAM", i): (KEY,) for i in ids})
    good = frames_message("gw-1", [(telegram("00000001", 1), T0), (bad_frame, T0)])
    bad = frames_message("gw-bad", [(telegram("00000001", 2), T0)])
    batch = _one_batch(ring, processes, [good, bad])
    assert [r[0] for r in batch.reading_rows] == [meter_key("KAM", "00000001")]
    kept = {r[4]: (r[5], r[6]) for r in batch.frame_rows()}
    assert kept[bad_frame] == (FrameStatus.DECODE_ERROR, "internal: RuntimeError: boom")
    assert [(d.reason, d.payload) for d in batch.dead] == [("internal", bad)]


def _behind_a_module(meter_id: str, *, key: bytes = KEY) -> bytes:
    """A mode-5 frame of KAM ``meter_id`` (TPL long header, CI 0x72) sent by a radio module whose own address
    (ZRI 99887766) is the link layer's."""
    return encode_oms("KAM", meter_id, 0x1B, 0x16, 3, 0x00, [total_volume(1.25)], mode=5, key=key,
                      long_header=True, frame_format="A", link_manufacturer="ZRI", link_meter_id="99887766",
                      link_version=0x18, link_device_type=0x37)


@pytest.mark.parametrize("processes", [0, 1])
def test_a_known_meter_behind_a_radio_module_without_its_key_is_key_missing_under_its_own_key(
        processes: int) -> None:
    """The meter is the TPL address, not the module's link address: a registered meter whose key is missing
    (or wrong) is KEY_MISSING (WRONG_KEY) filed under the meter's key, not an unknown meter under the module's."""
    ring = _Ring(frozenset({("KAM", "00000051"), ("KAM", "00000052")}), {("KAM", "00000052"): (bytes(16),)})
    frames = [_behind_a_module("00000051"), _behind_a_module("00000052"), _behind_a_module("00000053")]
    batch = _one_batch(ring, processes, [frames_message("gw-1", [(f, T0) for f in frames])])
    rows = {r[3]: r for r in batch.frame_rows()}
    module = meter_key("ZRI", "99887766")
    from storage.rows import FrameStatus

    assert rows[meter_key("KAM", "00000051")][5] == FrameStatus.KEY_MISSING
    assert rows[meter_key("KAM", "00000052")][5] == FrameStatus.WRONG_KEY
    assert rows[meter_key("KAM", "00000053")][5] == FrameStatus.UNKNOWN_METER  # not registered: unknown
    assert all(r[2] == module for r in rows.values())  # the link key stays the module's
    assert batch.counts["undecoded:key_missing"] == batch.counts["undecoded:wrong_key"] == 1
