"""Record codings: integer, BCD (negative, invalid), real, LVAR, dates, DIFE storage/tariff/subunit."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from decoders.compact import CompactFormatCache, decode_compact
from decoders.crc import crc16
from decoders.records import parse_records


def _one(hexrec: str):  # type: ignore[no-untyped-def]
    return parse_records(bytes.fromhex(hexrec)).records[0]


@pytest.mark.parametrize(
    ("hexrec", "value"),
    [
        ("0413E8030000", 1.0),  # 32-bit int, litres
        ("0C1478563412", 123456.78),  # BCD8, 0.01 m3
        ("0A1323F1", -0.123),  # BCD with leading F = negative
        ("0513" + "0000C03F", 0.0015),  # float32 1.5 litres
        ("023BFFFF", -0.001),  # signed 16-bit flow
        ("426CFE04", date(2007, 4, 30)),  # type G
        ("046D32371F15", datetime(2008, 5, 31, 23, 50)),  # type F
        ("02FD170100", 1),  # error flags unsigned
    ],
)
def test_record_value_decodes_per_coding(hexrec: str, value: object) -> None:
    got = _one(hexrec).value
    if isinstance(value, float):
        assert got == pytest.approx(value)
    else:
        assert got == value


def test_invalid_bcd_gives_none() -> None:
    assert _one("0C13FFFFFFFF").value is None


def test_dife_accumulates_storage_tariff_subunit() -> None:
    rec = _one("C4421300000000")  # DIF storage bit + DIFE: subunit 1, tariff 0, storage 2
    assert (rec.storage, rec.tariff, rec.subunit) == (1 + (2 << 1), 0, 1)


def test_lvar_text_and_backward_volume_vife() -> None:
    recs = parse_records(bytes.fromhex("0DFD1103434241" + "04933C0A000000")).records
    assert recs[0].value == "ABC"
    assert recs[1].quantity == "backward_volume" and recs[1].value == pytest.approx(0.01)


def test_manufacturer_data_after_0f_is_handed_over() -> None:
    parsed = parse_records(bytes.fromhex("2F2F0413010000000F0102"))
    assert parsed.manufacturer_data == b"\x01\x02"


def test_compact_frame_decodes_with_learnt_format() -> None:
    fmt = bytes.fromhex("02FF2004134413")
    cache = CompactFormatCache(known=())
    sig = cache.learn(fmt)
    values = bytes.fromhex("71000819000007190000")
    payload = sig.to_bytes(2, "little") + crc16(values).to_bytes(2, "little") + values
    recs = decode_compact(payload, cache)
    assert [r.key for r in recs] == ["02ff20", "0413", "4413"]
    assert recs[1].value == pytest.approx(6.408)


def test_common_header_tables_decode_like_the_general_path() -> None:
    """Every entry of the inline tables gives the record that ``parse_header`` + ``read_value`` give."""
    import random

    from decoders import records

    rng = random.Random(2468)
    two, fd = records.common_headers()
    headers = [bytes((key >> 8, key & 0xFF)) for key in two]
    headers += [bytes((key >> 8, 0xFD, key & 0xFF)) for key in fd]
    assert len(headers) > 20_000
    for head in headers:
        for _ in range(3):
            raw = head + bytes(rng.randrange(256) for _ in range(8))
            h, pos = records.parse_header(raw, 0, len(raw))
            want, end = records.read_value(h, raw, pos, len(raw))
            parsed = parse_records(raw, 0, end)
            assert repr(parsed.records) == repr((want,)), head.hex()


def test_common_tables_fill_as_headers_are_met_with_the_complete_tables_entries() -> None:
    """The inline tables start empty (building them whole costs most of a start-up): the general path adds a
    common header the first time it decodes one, with the entry the complete table holds."""
    from decoders import records

    two, fd = records.common_headers()
    raw = bytes.fromhex("0C13" + "78563412" + "8C0413" + "78563412" + "03FD17" + "010203" + "05FF" + "00000000")
    records.COMMON_HEADERS.pop(0x0C13, None)
    records.COMMON_FD_HEADERS.pop(0x0317, None)
    first = parse_records(raw).records
    assert records.COMMON_HEADERS[0x0C13][:4] == two[0x0C13][:4]
    assert records.COMMON_FD_HEADERS[0x0317][:4] == fd[0x0317][:4]
    assert 0x8C04 not in records.COMMON_HEADERS  # a DIFE: never a common header
    assert repr(parse_records(raw).records) == repr(first)  # the same records through the tables
