"""Malformed input: bad CRCs, truncation, wrong or missing keys are reported by the right layer."""

from __future__ import annotations

import pytest

from decoders import (
    DecodeError,
    KeyMissingError,
    LinkLayerError,
    WrongKeyError,
    decode,
    static_keys,
)
from decoders import encoder as enc

KEY = bytes(range(16))
RECS = [enc.total_volume(1.234), enc.error_flags(0)]


def test_decode_frame_a_with_bad_crc_raises_link_error() -> None:
    frame = bytearray(enc.encode_oms(records=RECS, frame_format="A"))
    frame[14] ^= 0x01
    with pytest.raises(LinkLayerError, match="CRC"):
        decode(bytes(frame))


def test_decode_truncated_frame_raises_link_error() -> None:
    frame = enc.encode_oms(records=RECS)
    with pytest.raises(LinkLayerError):
        decode(frame[:-3])


def test_decode_too_short_raises_link_error() -> None:
    with pytest.raises(LinkLayerError):
        decode(b"\x05\x44")


@pytest.mark.parametrize("mode", [5, 7])
def test_decode_with_wrong_key_raises_wrong_key_naming_the_layer(mode: int) -> None:
    frame = enc.encode_oms(records=RECS, mode=mode, key=KEY)
    with pytest.raises(WrongKeyError) as info:
        decode(frame, static_keys({"12345678": bytes(16)}))
    assert info.value.layer in ("TPL", "AFL")
    assert info.value.meter_id == "12345678"


def test_decode_ell_ctr_with_wrong_key_raises_wrong_key_in_ell() -> None:
    frame = enc.encode_oms("KAM", records=RECS, ell="II", key=KEY, device_type=0x16)
    with pytest.raises(WrongKeyError) as info:
        decode(frame, static_keys({"12345678": bytes(16)}))
    assert info.value.layer == "ELL"


@pytest.mark.parametrize("mode", [5, 7])
def test_decode_encrypted_without_key_raises_key_missing(mode: int) -> None:
    frame = enc.encode_oms(records=RECS, mode=mode, key=KEY)
    with pytest.raises(KeyMissingError):
        decode(frame)


def test_decode_tries_every_candidate_key() -> None:
    frame = enc.encode_oms(records=RECS, mode=5, key=KEY)
    tg = decode(frame, lambda m, i: [bytes(16), KEY])
    assert tg.total_m3 == 1.234


def test_frame_without_l_field_is_accepted() -> None:
    frame = enc.encode_oms(records=RECS)
    assert decode(frame[1:]).total_m3 == 1.234


def test_unsupported_security_mode_names_the_config_word() -> None:
    frame = bytearray(enc.encode_oms(records=RECS))
    frame[14] = 0x09  # CFG high byte: mode 9 (AES-GCM)
    with pytest.raises(DecodeError, match="security mode 9"):
        decode(bytes(frame))
