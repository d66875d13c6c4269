"""One bad frame never costs its neighbours (issue 13): per-frame rejects, limits before parsing, property test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_helpers import T0, frames_message, telegram

from core.wire import WireError, decode_items
from core.wire_frames import MAX_DEPTH, MessageRejected, decode_lenient

NOW = T0 + timedelta(minutes=5)
BAD_FRAMES: list[tuple[object, str]] = [
    ({"received_at": "0001-01-01T00:00:00+01:00", "frame_hex": "2E44"}, "bad_time"),
    ({"received_at": "9999-12-31T23:59:59-01:00", "frame_hex": "2E44"}, "bad_time"),
    ({"received_at": "2099-01-01T00:00:00.000Z", "frame_hex": "2E44"}, "implausible_time"),
    ({"received_at": "1970-01-01T00:00:00.000Z", "frame_hex": "2E44"}, "implausible_time"),
    ({"received_at": "2026-11-20T08:00:00Z", "frame_hex": "2E4\u0000"}, "bad_hex"),
    ({"received_at": "2026-11-20T08:00:00Z", "frame_hex": "ZZ"}, "bad_hex"),
    ({"received_at": "2026-11-20T08:00:00Z", "frame_hex": "2E44", "link_mode": "T1\u0000"}, "schema"),
    ({"received_at": "2026-11-20T08:00:00Z", "frame_hex": "2E44" * 600}, "bad_hex"),
    ({"received_at": "2026-11-20 8:00", "frame_hex": "2E44"}, "bad_time"),
    ({"received_at": 12, "frame_hex": "2E44"}, "implausible_time"),
    ([[[]]], "schema"),
    ("\u0000", "schema"),
    (None, "schema"),
]


def _good(n: int) -> list[dict[str, object]]:
    doc = json.loads(frames_message("gw-1", [(telegram(f"{i + 1:08d}", i), T0 + timedelta(seconds=i))
                                             for i in range(n)]))
    return doc["frames"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("bad", "reason"), BAD_FRAMES)
def test_each_bad_frame_is_rejected_alone(bad: object, reason: str) -> None:
    good = _good(3)
    payload = json.dumps({"v": 1, "gateway": "gw-1", "frames": [good[0], bad, good[1], good[2]]}).encode()
    gateway, items, rejected = decode_lenient(payload, NOW)
    assert gateway == "gw-1" and len(items) == 3
    assert [(r.index, r.reason) for r in rejected] == [(1, reason)]
    assert "\x00" not in rejected[0].detail
    assert json.loads(rejected[0].payload)["frames"] == [bad]  # the dead letter holds just that frame


def test_the_strict_decoder_raises_wire_errors_only() -> None:
    for bad, _ in BAD_FRAMES[:2]:
        with pytest.raises(WireError):
            decode_items(json.dumps({"v": 1, "gateway": "g", "frames": [bad]}).encode())


@pytest.mark.parametrize(("payload", "reason"), [
    (b"[" * 100_000, "too_many_fields"),
    (b"[" * 50 + b"]" * 50, "too_deep"),
    (b'{"v":1,"gateway":"g","frames":[' + b"[" * 20 + b"]" * 20 + b"]}", "too_deep"),
    (json.dumps({"v": 1, "gateway": "gw\u00001", "frames": []}).encode(), "bad_text"),
    (json.dumps({"v": 1, "gateway": "gw\n1", "frames": []}).encode(), "bad_text"),
    (b"\x00" * (9 * 1024 * 1024), "too_large"),
    (b"not json", "not_json"),
    (b'{"v": 2, "gateway": "g", "frames": []}', "schema"),
])
def test_message_limits_are_checked_before_parsing(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageRejected) as caught:
        decode_lenient(payload, NOW)
    assert caught.value.reason == reason
    assert MAX_DEPTH < 20


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    good = _good(1)
    payload = json.dumps({"v": 1, "gateway": "[[[[[[[[[[[[[[[[[[[[[[", "frames": good}).encode()
    assert len(decode_lenient(payload, NOW)[1]) == 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.sampled_from(BAD_FRAMES), st.integers(1, 12))
def test_a_random_bad_frame_anywhere_leaves_every_good_frame(where: int, bad: tuple[object, str], n: int) -> None:
    good = _good(n)
    frames = list(good)
    frames.insert(min(where, n), bad[0])
    _, items, rejected = decode_lenient(json.dumps({"v": 1, "gateway": "gw", "frames": frames}).encode(), NOW)
    assert [bytes.fromhex(str(g["frame_hex"])) for g in good] == [i[0] for i in items]
    assert [r.reason for r in rejected] == [bad[1]]


def test_future_limit_follows_the_message_arrival() -> None:
    frame = {"received_at": "2026-11-21T09:00:00.000Z", "frame_hex": "2E44"}
    payload = json.dumps({"v": 1, "gateway": "g", "frames": [frame]}).encode()
    assert len(decode_lenient(payload, datetime(2026, 11, 20, 10, tzinfo=UTC))[1]) == 1
    assert decode_lenient(payload, datetime(2026, 11, 20, 8, tzinfo=UTC))[2][0].reason == "implausible_time"
