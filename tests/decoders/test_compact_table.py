"""The shipped table of known compact-frame formats: each signature is the CRC of its bytes, each layout parses,
and a compact frame in any of them decodes on first sight (no full frame before it) while the cache still
learns and prefers formats taught by full frames."""

from __future__ import annotations

import pytest

from decoders import CompactFormatCache, decode, encoder
from decoders.compact import decode_compact
from decoders.compact_table import KNOWN_COMPACT_FORMATS, KnownFormat
from decoders.crc import crc16
from decoders.errors import CompactFormatUnknownError
from decoders.records import parse_header, parse_records

ROWS = [pytest.param(row, id=f"{row.signature:04x}") for row in KNOWN_COMPACT_FORMATS]
KEY = bytes(range(16))


def _records_for(fmt: bytes) -> list[bytes]:
    """One record per header of ``fmt`` with made-up data of the right length (small, valid values)."""
    out, pos = [], 0
    while pos < len(fmt):
        h, end = parse_header(fmt, pos, len(fmt))
        out.append(fmt[pos:end] + (bytes((1,)) + bytes(h.length - 1) if h.length else b""))
        pos = end
    return out


@pytest.mark.parametrize("row", ROWS)
def test_known_format_signature_is_crc_of_its_bytes(row: KnownFormat) -> None:
    assert crc16(bytes.fromhex(row.format_hex)) == row.signature
    assert row.model and row.source


def test_known_format_signatures_are_unique() -> None:
    sigs = [row.signature for row in KNOWN_COMPACT_FORMATS]
    assert len(sigs) == len(set(sigs))


@pytest.mark.parametrize("row", ROWS)
def test_compact_frame_in_known_format_decodes_without_a_full_frame(row: KnownFormat) -> None:
    fmt = bytes.fromhex(row.format_hex)
    full, compact = encoder.full_and_compact_apl(_records_for(fmt))
    assert compact[1:3] == row.signature.to_bytes(2, "little")
    got = decode_compact(compact[1:], CompactFormatCache())
    assert got == parse_records(full[1:]).records  # the same records the full frame gives
    assert "".join(r.key for r in got).upper() == row.format_hex


def test_unknown_compact_format_still_needs_a_full_frame_first() -> None:
    recs = [encoder.volume(1.5), encoder.flow(0.25)]  # a layout no table row has
    full, compact = encoder.full_and_compact_apl(recs)
    frame = encoder.encode_ell_apl("KAM", "55667788", 0x1B, 0x16, compact, key=KEY)
    cache = CompactFormatCache()
    with pytest.raises(CompactFormatUnknownError, match="unknown"):
        decode(frame, lambda m, i: [KEY], compact_formats=cache)
    decode(
        encoder.encode_ell_apl("KAM", "55667788", 0x1B, 0x16, full, key=KEY), lambda m, i: [KEY], compact_formats=cache
    )
    assert decode(frame, lambda m, i: [KEY], compact_formats=cache).total_m3 == pytest.approx(1.5)


def test_empty_cache_holds_only_what_full_frames_taught() -> None:
    assert len(CompactFormatCache()) == 0


def test_encrypted_compact_frame_with_long_header_decodes_from_the_table() -> None:
    """CI 0x73 (compact, long TPL header) in mode 5: the decrypted 2F2F check bytes precede the signature."""
    row = next(r for r in KNOWN_COMPACT_FORMATS if r.model.startswith("Engelmann FAW"))
    full, compact = encoder.full_and_compact_apl(_records_for(bytes.fromhex(row.format_hex)))
    frame = bytearray(encoder.encode_oms("EFE", "22862420", 0x00, 0x07, 0x70, 0, [compact[1:]], mode=5, key=KEY,
                                         long_header=True, link_meter_id="43000255"))
    assert frame[10] == 0x72
    frame[10] = 0x73  # the same header, compact frame
    tg = decode(bytes(frame), lambda m, i: [KEY], compact_formats=CompactFormatCache())
    assert tg.meter_id == "22862420" and tg.ci == 0x73
    assert tg.records == parse_records(full[1:]).records
