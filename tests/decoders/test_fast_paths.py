"""The decoder's fast paths agree with their reference definitions.

Per-key AES objects vs ``cryptography``'s one-shot contexts, the native CRC and its residue check vs a bitwise CRC, the
PRIOS byte tables vs the bit-by-bit LFSR, ``telegram_from_values`` vs the dataclass constructor.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date

import pytest

from decoders import Decoder, KeyLookup, crypto, decode, diehl
from decoders.ciphers import CipherCache
from decoders.crc import block_ok, checks_ok, crc16, span_checks
from decoders.drivers import ALL_DRIVERS
from decoders.model import HistoryEntry, Telegram, telegram_from_values

RNG = random.Random(1357)


def _bytes(n: int) -> bytes:
    return bytes(RNG.randrange(256) for _ in range(n))


def _crc16_bytewise(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x3D65) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


@pytest.mark.parametrize("n", [0, 1, 2, 9, 10, 15, 16, 17, 125, 255, 300])
def test_crc16_matches_bitwise_crc(n: int) -> None:
    data = _bytes(n + 5)
    assert crc16(data, 2, 2 + n) == _crc16_bytewise(data[2 : 2 + n])
    assert crc16(b"123456789") == 0xC2B7


@pytest.mark.parametrize("n", [0, 1, 2, 9, 10, 15, 16, 17])
def test_block_ok_accepts_a_block_with_its_crc_and_rejects_a_flipped_bit(n: int) -> None:
    block = _bytes(n)
    framed = b"\xaa" + block + crc16(block).to_bytes(2, "big") + b"\xbb"
    assert block_ok(framed, 1, n + 3)
    for i in range(1, n + 3):
        broken = bytearray(framed)
        broken[i] ^= 0x10
        assert not block_ok(broken, 1, n + 3)


def test_span_checks_agree_with_block_ok_per_span() -> None:
    for _ in range(300):
        spans = []
        pos = RNG.randrange(3)
        for _ in range(RNG.randrange(1, 6)):
            n = RNG.choice([2, 3, 4, 5, 12, 17, 18, RNG.randrange(2, 250)])
            spans.append((pos, pos + n))
            pos += n
        data = bytearray(_bytes(pos + 2))
        for start, end in spans:  # most blocks valid, so a single bad one decides
            if end - start >= 2 and RNG.random() < 0.8:
                data[end - 2 : end] = crc16(data, start, end - 2).to_bytes(2, "big")
        want = all(block_ok(data, start, end) for start, end in spans)
        assert checks_ok(bytes(data), span_checks(tuple(spans))) is want
    with pytest.raises(ValueError, match="shorter than its CRC"):
        span_checks(((0, 12), (12, 13)))


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 32, 47, 48, 90])
def test_cached_aes_matches_cryptography_cbc_ctr_cmac(n: int) -> None:
    cache = CipherCache()
    for _ in range(5):
        key, iv, data = _bytes(16), _bytes(16), _bytes(n)
        aes = cache.get(key)
        blocks = data[: n // 16 * 16]
        assert aes.cbc_decrypt(iv, blocks) == crypto.aes_cbc_decrypt(key, iv, blocks)
        assert aes.ctr(iv, data) == crypto.aes_ctr(key, iv, data)
        assert aes.ctr(b"\xff" * 16, data) == crypto.aes_ctr(key, b"\xff" * 16, data)
        assert aes.cmac(data) == crypto.aes_cmac(key, data)
    assert crypto.kdf_a(key, 1, b"\x01\x00\x00\x00", b"\x78\x56\x34\x12") == aes.cmac(
        b"\x01\x01\x00\x00\x00\x78\x56\x34\x12" + b"\x07" * 7
    )


def test_cipher_cache_is_bounded_and_reuses_objects() -> None:
    cache = CipherCache(max_size=2)
    a, b = cache.get(bytes(16)), cache.get(b"\x01" * 16)
    assert cache.get(bytes(16)) is a
    cache.get(b"\x02" * 16)  # evicts the least recently used (b)
    assert len(cache) == 2
    assert cache.get(bytes(16)) is a
    assert cache.get(b"\x01" * 16) is not b


def _fixed_key(key_hex: str | None) -> KeyLookup:
    def lookup(_manufacturer: str, _meter_id: str) -> list[bytes]:
        return [bytes.fromhex(key_hex)] if key_hex else []

    return lookup


def test_decoder_object_decodes_every_driver_case_like_decode() -> None:
    for driver in ALL_DRIVERS:
        for case in driver.cases():
            if case.preceding:
                continue
            keys = _fixed_key(case.key)
            frame = bytes.fromhex(case.hex)
            dec = Decoder(keys)
            assert dec.decode(frame) == dec.decode(frame) == decode(frame, keys)


def _descramble_bitwise(frame: bytes, key: bytes) -> bytes:
    reg = int.from_bytes(key[:4], "big") ^ int.from_bytes(key[4:8], "big")
    for pos in (2, 6, 10):
        reg ^= int.from_bytes(frame[pos : pos + 4], "big")
    out = bytearray()
    for byte in frame[15:]:
        for _ in range(8):
            bit = ((reg >> 1) ^ (reg >> 2) ^ (reg >> 11) ^ (reg >> 31)) & 1
            reg = ((reg << 1) | bit) & 0xFFFFFFFF
        out.append(byte ^ (reg & 0xFF))
    return bytes(out)


@pytest.mark.parametrize("n", [15, 16, 40, 120])
def test_prios_byte_tables_match_the_bitwise_lfsr(n: int) -> None:
    for _ in range(20):
        frame, key = _bytes(n), _bytes(8)
        assert diehl.descramble(frame, key) == _descramble_bitwise(frame, key)


def test_telegram_from_values_equals_the_constructor() -> None:
    values = ("12345678", "APA", 1, 7, "water", 3, 0, 5, "oms", 1.5, 1.0, None, None, 0.25, None)
    values += (frozenset(), frozenset(), 100, 3.6, (), b"12345678", 0x7A, "APA", "12345678")
    values += ((HistoryEntry(1, date(2026, 10, 31), 0.75),),)
    built = telegram_from_values(values)
    assert built == Telegram(*values)
    assert hash(built) == hash(Telegram(*values))
    assert type(built) is Telegram
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.total_m3 = 2.0  # type: ignore[misc]
    assert dataclasses.replace(built, total_m3=2.0) == Telegram(*values[:9], 2.0, *values[10:])
    with pytest.raises(TypeError):
        telegram_from_values(values[:-1])


def test_manufacturer_letters_table_matches_core_ids() -> None:
    from core.ids import manufacturer_letters as reference
    from decoders.stack import manufacturer_letters

    assert all(manufacturer_letters(code) == reference(code) for code in range(0x10000))


def test_inlined_date_converters_match_datetypes() -> None:
    from decoders import datetypes, records

    for b0 in range(256):
        for b1 in range(256):
            assert records._type_g_bytes(bytes((b0, b1))) == datetypes.type_g(b0, b1)
    for _ in range(100_000):
        raw = _bytes(4)
        assert records._type_f_bytes(raw) == datetypes.type_f(raw)


def test_decoder_and_decode_turn_internal_bugs_into_decode_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import decoders
    from decoders import DecodeError

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(decoders, "decode_frame", broken)
    for run in (decoders.decode, decoders.Decoder().decode):
        with pytest.raises(DecodeError, match="internal error: RuntimeError: boom") as info:
            run(b"\x00" * 20)
        assert info.value.layer == "internal"
