"""The v1 MQTT frame message: round trip, and clear errors for everything malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.types import LinkMode, Position, RawFrame
from core.wire import WireError, decode_frames, encode_frames

T0 = datetime(2026, 11, 22, 8, 0, 0, 123000, tzinfo=UTC)


def _frame(i: int, **kw: object) -> RawFrame:
    return RawFrame(payload=bytes([0x0B, 0x44, i]) + b"\x01" * 9, received_at=T0 + timedelta(seconds=i),
                    source="gw-1", rssi_dbm=-80.5 + i, link_mode=LinkMode.T1, **kw)  # type: ignore[arg-type]


def test_encode_decode_round_trip_keeps_every_field() -> None:
    frames = [_frame(1), _frame(2, position=Position(50.06, 19.94, fix_at=T0, hdop=0.9))]
    gateway, back = decode_frames(encode_frames("gw-1", frames))
    assert gateway == "gw-1"
    assert back == frames


def test_decode_normalises_offsets_to_utc() -> None:
    msg = {"v": 1, "gateway": "g", "frames": [
        {"received_at": "2026-11-22T09:00:00+01:00", "frame_hex": "0b44", "link_mode": "C1"}]}
    _, frames = decode_frames(json.dumps(msg).encode())
    assert frames[0].received_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert frames[0].received_at.tzinfo == UTC
    assert frames[0].link_mode is LinkMode.C1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "body"),
        (b'{"v": 2, "gateway": "g", "frames": []}', "unsupported message version"),
        (b'{"v": 1, "gateway": "g", "frames": [{"received_at": "2026-11-22T08:00:00Z", "frame_hex": "zz"}]}',
         "frames.0.frame_hex"),
        (b'{"v": 1, "gateway": "g", "frames": [{"received_at": "2026-11-22T08:00:00Z", "frame_hex": "abc"}]}',
         "odd number"),
        (b'{"v": 1, "gateway": "g", "frames": [{"received_at": "2026-11-22T08:00:00", "frame_hex": "ab"}]}',
         "timezone"),
        (json.dumps({"v": 1, "gateway": "g", "frames": [
            {"received_at": "2026-11-22T08:00:00Z", "frame_hex": "ab" * 600}]}).encode(), "frame_hex"),
    ],
)
def test_decode_rejects_malformed_messages_with_a_clear_error(payload: bytes, fragment: str) -> None:
    with pytest.raises(WireError, match="frame message") as info:
        decode_frames(payload)
    assert fragment in str(info.value)


def test_raw_frame_requires_utc() -> None:
    with pytest.raises(ValueError, match="UTC"):
        RawFrame(payload=b"\x01", received_at=datetime(2026, 1, 1), source="g")
    with pytest.raises(ValueError, match="UTC"):
        RawFrame(payload=b"\x01", received_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1))),
                 source="g")
