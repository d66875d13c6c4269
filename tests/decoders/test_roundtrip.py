"""Property tests: whatever the encoder builds, the decoder reads back (modes 0/5/7, frames A/B/none, ELL)."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from decoders import decode, static_keys
from decoders import encoder as enc

KEYS = st.binary(min_size=16, max_size=16)
IDS = st.integers(0, 99_999_999).map(lambda i: f"{i:08d}")
LITRES = st.integers(0, 99_999_999)


@settings(max_examples=150, deadline=None)
@given(
    meter_id=IDS,
    litres=LITRES,
    target=LITRES,
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    when=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
    flags=st.integers(0, 0xFFFF),
    bcd=st.booleans(),
    mode=st.sampled_from([0, 5, 7]),
    frame_format=st.sampled_from(["A", "B", "none"]),
    long_header=st.booleans(),
    acc=st.integers(0, 255),
    key=KEYS,
)
def test_encode_then_decode_returns_the_same_values(
    meter_id: str,
    litres: int,
    target: int,
    day: date,
    when: datetime,
    flags: int,
    bcd: bool,
    mode: int,
    frame_format: str,
    long_header: bool,
    acc: int,
    key: bytes,
) -> None:
    records = [
        enc.total_volume(litres / 1000, bcd=bcd),
        enc.billing_volume(target / 1000, bcd=bcd),
        enc.billing_date(day),
        enc.date_time(when),
        enc.error_flags(flags),
    ]
    frame = enc.encode_oms(
        "ZZZ",
        meter_id,
        1,
        7,
        acc,
        0,
        records,
        mode=mode,
        key=key if mode else None,
        frame_format=frame_format,
        long_header=long_header,
    )
    tg = decode(frame, static_keys({meter_id: key}))
    assert tg.meter_id == meter_id
    assert tg.manufacturer == "ZZZ"
    assert tg.total_m3 == litres / 1000
    assert tg.target_m3 == target / 1000
    assert tg.target_date == day
    assert tg.meter_datetime == when.replace(second=0, microsecond=0)
    assert tg.security_mode == mode
    assert ("error" in {a.value for a in tg.alarms}) == bool(flags)


@settings(max_examples=60, deadline=None)
@given(
    litres=LITRES,
    flow=st.integers(0, 32767),
    backward=LITRES,
    key=KEYS,
    frame_format=st.sampled_from(["A", "B", "none"]),
)
def test_ell_ctr_frames_round_trip(litres: int, flow: int, backward: int, key: bytes, frame_format: str) -> None:
    records = [enc.total_volume(litres / 1000), enc.flow(flow / 1000), enc.backward_volume(backward / 1000)]
    frame = enc.encode_oms("KAM", "12345678", 0x1B, 0x16, 3, 0, records, ell="II", key=key, frame_format=frame_format)
    tg = decode(frame, static_keys({"12345678": key}))
    assert tg.total_m3 == litres / 1000
    assert tg.flow_m3h == flow / 1000
    assert tg.total_backward_m3 == backward / 1000


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_errors(data: bytes) -> None:
    from decoders import DecodeError

    try:
        decode(data, static_keys({"12345678": bytes(16)}))
    except DecodeError as exc:
        assert exc.layer != "internal", str(exc)
