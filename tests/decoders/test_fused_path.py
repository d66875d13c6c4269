"""The fused fast path (``decoders.stack._fast``) gives exactly what the general path gives.

Every frame is decoded twice through fresh decoders, once with the fused path disabled; the telegrams (every
field, ``records`` and ``payload_digest`` included) or the raised errors (type, layer, message, identity) must
be identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoders import DecodeError, Decoder, KeyLookup, stack
from decoders import encoder as enc
from decoders.drivers import ALL_DRIVERS

KEY = bytes(range(16))


@contextmanager
def _general_only() -> Iterator[None]:
    fast = stack._fast
    stack._fast = lambda *args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        stack._fast = fast


def _outcome(frames: list[bytes], keys: KeyLookup | None) -> list[object]:
    dec = Decoder(keys)
    out: list[object] = []
    for f in frames:
        try:
            out.append(repr(dec.decode(f)))  # repr: NaN values compare equal as text
        except DecodeError as exc:
            out.append((type(exc).__name__, exc.layer, str(exc), exc.meter_id, exc.manufacturer))
    return out


def _same(frames: list[bytes], keys: KeyLookup | None) -> None:
    fused = _outcome(frames, keys)
    with _general_only():
        general = _outcome(frames, keys)
    assert fused == general


def _keys(key_hex: str | None) -> KeyLookup | None:
    if key_hex is None:
        return None
    key = bytes.fromhex(key_hex)
    return lambda _m, _i: [key]


@pytest.mark.parametrize("driver", ALL_DRIVERS, ids=lambda d: d.name)
def test_every_driver_case_decodes_the_same_fused_and_general(driver: object) -> None:
    for case in driver.cases():  # type: ignore[attr-defined]
        frames = [bytes.fromhex(h) for h in (*case.preceding, case.hex)]
        _same(frames, _keys(case.key))
        _same(frames, None)


def test_the_fused_path_is_taken_for_the_benchmark_shape() -> None:
    frame = enc.encode_oms("APA", "12345678", 1, 7, 1, 0, [enc.total_volume(1.5)], frame_format="A")
    with _general_only():
        general = Decoder().decode(frame)
    lk = stack.link.normalize(frame)
    fused = stack._fast(lk, lk.data, None, None, stack.CipherCache())
    assert fused is not None and fused == general


_RECORD = st.one_of(
    st.builds(enc.total_volume, st.floats(0, 1e6).map(lambda v: round(v, 3))),
    st.builds(enc.billing_volume, st.floats(0, 1e6).map(lambda v: round(v, 3)), storage=st.integers(1, 15)),
    st.builds(enc.error_flags, st.integers(0, 0xFFFF)),
    st.builds(enc.backward_volume, st.floats(0, 1e4).map(lambda v: round(v, 3))),
    st.builds(enc.flow, st.floats(0, 30).map(lambda v: round(v, 3))),
    st.builds(enc.battery_days, st.integers(0, 9999)),
    st.builds(enc.record, st.integers(0, 0xFF), st.integers(0, 0xFF), st.binary(max_size=8)),
    st.binary(min_size=1, max_size=6),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    manufacturer=st.sampled_from(["APA", "ELS", "KAM", "ZRI", "SEN", "ITW", "DME", "BMT", "LAS", "QDS"]),
    version=st.sampled_from([0x00, 0x01, 0x20, 0x1B, 0x44, 0x68, 0x6A]),
    device_type=st.sampled_from([0x06, 0x07, 0x16, 0x37]),
    status=st.integers(0, 0xFF),
    records=st.lists(_RECORD, max_size=6),
    mode=st.sampled_from([0, 5]),
    long_header=st.booleans(),
    frame_format=st.sampled_from(["A", "B", "none"]),
    cut=st.integers(0, 40),
    flip=st.integers(0, 255),
)
def test_generated_frames_decode_the_same_fused_and_general(
    manufacturer: str,
    version: int,
    device_type: int,
    status: int,
    records: list[bytes],
    mode: int,
    long_header: bool,
    frame_format: str,
    cut: int,
    flip: int,
) -> None:
    frame = enc.encode_oms(
        manufacturer,
        "12345678",
        version,
        device_type,
        7,
        status,
        records,
        mode=mode,
        key=KEY,
        frame_format=frame_format,
        long_header=long_header,
    )
    plain = enc.encode_oms(manufacturer, "12345678", version, device_type, 7, status, records, long_header=long_header)
    damaged = bytearray(plain)
    damaged[flip % len(damaged)] ^= 0x5A
    frames = [frame, plain, plain[: max(11, len(plain) - cut)], bytes(damaged)]
    _same(frames, lambda _m, _i: [KEY])
    _same(frames, None)


def test_drivers_declaring_oms_extract_exactly_oms_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Driver.oms`` lets both paths skip ``extract``: it must equal ``oms_fields(frame, *oms)`` (then
    ``Driver.refine``, where set)."""
    from decoders.drivers.oms import oms_fields
    from decoders.frame import Frame

    seen: list[tuple[Frame, object]] = []
    telegram = stack._telegram

    def spy(fr: Frame, driver: object, *rest: str) -> object:
        seen.append((fr, driver))
        return telegram(fr, driver, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(stack, "_telegram", spy)
    frames = [bytes.fromhex(c.hex) for d in ALL_DRIVERS for c in d.cases()]
    for d in ALL_DRIVERS:
        for m in d.matches:
            for version in sorted(m.versions or {1}):
                for dtype in sorted(m.device_types or {7}):
                    recs = [enc.total_volume(1.5), enc.billing_volume(1.0), enc.error_flags(0x11)]
                    frames.append(enc.encode_oms(m.manufacturer, "12345678", version, dtype, 1, 0x14, recs, ell="II"))
    with _general_only():
        _outcome(frames, lambda _m, _i: [KEY])
    checked = 0
    refined: set[str] = set()
    for fr, driver in seen:
        spec = driver.oms  # type: ignore[attr-defined]
        if spec is not None:
            want = oms_fields(fr, spec[0], use_status=spec[1])
            if driver.refine is not None:  # type: ignore[attr-defined]
                driver.refine(fr.records, fr.status, want["alarms"], want["alarms_history"])  # type: ignore[attr-defined]
                refined.add(driver.name)  # type: ignore[attr-defined]
            assert driver.extract(fr) == want  # type: ignore[attr-defined]
            checked += 1
    assert checked > 20
    assert refined == {"kamwater", "kadenwater", "aquastream"}
