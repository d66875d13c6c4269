"""The v1 MQTT frame message: round trip, and clear errors for everything malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import wire
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
        (b'{"v": 1, "gateway": "g", "frames": [{"received_at": "2026-11-22T08:00:00Z", "frame_hex": "  "}]}',
         "no frame bytes"),
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


# --- the canonical fast path agrees with pydantic ----------------------------------------------------------

def _mostly(valid: st.SearchStrategy[object], odd: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Usually a canonical value, sometimes an odd one (each field on its own: most messages stay valid)."""
    return st.sampled_from([True] * 11 + [False]).flatmap(lambda ok: valid if ok else odd)


_GOOD_TIMES = st.sampled_from(["2026-11-22T08:00:00Z", "2026-11-22T08:00:00.981Z", "2026-11-22T09:00:00.5+01:00",
                               "2026-11-22T08:00:00+00:00", "2026-11-22T07:59:59.123456-05:30"])
_ODD_TIMES = st.sampled_from(["2026-11-22T08:00:00", "2026-11-22T08:00:60Z", "2026-11-22 08:00:00Z", "2026-11-22",
                              "garbage", "2026-11-22T08:00:00.1234567Z", "2026-11-22T24:00:00Z"]) | \
    st.integers(0, 2_000_000_000) | st.none()
_TIMES = _mostly(_GOOD_TIMES, _ODD_TIMES)
_NUMBERS = _mostly(st.none() | st.integers(-200, 200) | st.floats(-200, 200),
                   st.booleans() | st.floats() | st.sampled_from(["-80", "x"]))
_HEX = _mostly(st.binary(min_size=1, max_size=80).map(lambda b: b.hex()),
               st.sampled_from(["0b44", "0B44", "abc", "zz", "0b 44", "", " 0b44", "ab" * 513, "ab" * 512]))
_ABSENT = object()


@st.composite
def _messages(draw: st.DrawFn) -> bytes:
    def put(d: dict[str, object], key: str, strategy: st.SearchStrategy[object]) -> None:
        value = draw(_mostly(strategy, st.just(_ABSENT)))
        if value is not _ABSENT:
            d[key] = value

    frames: list[object] = []
    for _ in range(draw(st.integers(0, 3))):
        frame: dict[str, object] = {}
        put(frame, "received_at", _TIMES)
        put(frame, "rssi_dbm", _NUMBERS)
        put(frame, "link_mode", _mostly(st.sampled_from(["T1", "C1", "unknown"]),
                                        st.sampled_from(["c1", "X"]) | st.none()))
        put(frame, "frame_hex", _HEX)
        put(frame, "position", _mostly(st.none() | st.fixed_dictionaries(
            {"lat": _NUMBERS, "lon": _NUMBERS}, optional={"fix_at": _TIMES, "hdop": _NUMBERS}),
            st.sampled_from([{}, [], {"lat": 91, "lon": 0}, {"lat": 0, "lon": -181}])))
        put(frame, "extra", st.integers())
        frames.append(draw(_mostly(st.just(frame), st.sampled_from([1, "x", None, []]))))
    doc: dict[str, object] = {}
    put(doc, "v", _mostly(st.just(1), st.sampled_from([2, 1.0, True, "1", None])))
    put(doc, "gateway", _mostly(st.sampled_from(["gw-1", "brama-łódź"]),
                                st.text(max_size=2) | st.sampled_from(["x" * 129, "\ud800"]) | st.integers()))
    put(doc, "sent_at", _TIMES)
    put(doc, "frames", _mostly(st.just(frames), st.sampled_from([None, {}, "x"])))
    return json.dumps(doc).encode(errors="surrogatepass")


@settings(max_examples=1500, deadline=None)
@given(_messages())
def test_fast_path_returns_what_pydantic_returns_or_declines(payload: bytes) -> None:
    fast = wire._decode_canonical(payload)
    try:
        slow: tuple[str, list[wire.FrameItem]] | None = wire._decode_validated(payload)
    except WireError:
        slow = None
    if fast is not None:
        assert fast == slow
        assert all(item[1].tzinfo is UTC for item in fast[1])  # == compares instants, not zones


def test_fast_path_takes_what_the_collectors_send() -> None:
    frames = [_frame(1), _frame(2, position=Position(50.06, 19.94, fix_at=T0, hdop=0.9))]
    payload = encode_frames("gw-1", frames)
    assert wire._decode_canonical(payload) == wire._decode_validated(payload)
    assert decode_frames(payload) == ("gw-1", frames)
