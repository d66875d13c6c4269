"""Known compact-frame formats (CI 0x79), shipped as data so a compact frame decodes on first sight.

A compact frame names its record layout only by a signature: the CRC-16/EN-13757 of the DIF/DIFE/VIF/VIFE
bytes of the equivalent full frame (fact sheet §2.9). A receiver normally learns signature → format from a
full frame (CI 0x78) of the same meter, which Kamstrup meters send only every eighth telegram or so. Since the
signature is a CRC of the format bytes, a row here cannot be mistaken for another layout; the decoder consults
this table only when the caller's :class:`~decoders.compact.CompactFormatCache` has no entry.

Each row: the signature, the format bytes (hex), the model whose full frame shows that layout, and where the
layout is published. ``tests/decoders/test_compact_table.py`` recomputes every signature from its bytes.

Sources:
* [KW] wmbusmeters ``drivers/src/kamwater.xmq`` (``compact_frame_formats`` list, detection keys and the
  full-frame test telegrams of Multical 21 / flowIQ 2200 / KWM2231 it carries).
* [KH] wmbusmeters ``drivers/src/kamheat.xmq`` (``compact_frame_formats`` with the MVT each comes from).
* [WM] wmbusmeters ``src/wmbus.cc`` ``findFormatBytesFromKnownMeterSignatures`` (the first five rows).
* [EF] wmbusmeters ``drivers/src/engelmann_faw.xmq`` (``compact_frame_formats``; same layout as its full-frame
  test telegram: billing date and volume, flags, 15 month ends, date-time, total).
"""

from __future__ import annotations

from typing import NamedTuple


class KnownFormat(NamedTuple):
    """One known layout: signature (CRC-16/EN-13757 of the format bytes), format hex, source model, source."""

    signature: int
    format_hex: str
    model: str
    source: str


KNOWN_COMPACT_FORMATS: tuple[KnownFormat, ...] = (
    # Multical 21 (KAM v0x1B type 0x16): info codes, total, target, min flow temp., min external temp.
    KnownFormat(0xA8ED, "02FF2004134413615B6167", "Kamstrup Multical 21 (KAM 1B 16)", "[WM], [KW] test 1, §2.9"),
    # Multical 21 / flowIQ 2101 variant with max flow and the manufacturer-specific E7FF0F record.
    KnownFormat(0xC412, "02FF20041392013BA1015B8101E7FF0F", "Kamstrup Multical 21 (KAM 1B 16)", "[WM], [KW] test 3"),
    KnownFormat(0x61EB, "02FF2004134413A1015B8101E7FF0F", "Kamstrup Multical 21 / flowIQ 2101", "[WM], [KW]"),
    KnownFormat(0xD2F7, "02FF2004134413615B5167", "Kamstrup Multical 21 (max external temp.)", "[WM], [KW]"),
    KnownFormat(0xDD34, "02FF2004134413", "Kamstrup Multical 21 (volumes only)", "[WM], [KW]"),
    KnownFormat(0x7C0E, "02FF200413523B", "Kamstrup Multical 21 / flowIQ 2101 (max flow)", "[KW]"),
    # flowIQ 2200 (KAW v0x3C type 0x16): 32-bit status, target, max flow, acoustic noise, target date, temps.
    KnownFormat(
        0x0905,
        "04FF234413523B06FF1B426C61675167023B04138101E7FF0F",
        "Kamstrup flowIQ 2200 (KAW 3C 16)",
        "[KW] test 'Votten' (full frame)",
    ),
    KnownFormat(
        0x36D4,
        "02FF2004134413426C523B615B616751678101E7FF0F06FF1B",
        "Kamstrup flowIQ 2200 / Multical 21 (KAW 3C 16, 16-bit info codes)",
        "[KW]",
    ),
    # flowIQ 2200 / KWM2231 (KAW v0x3A type 0x16): status, totals, target date, flows, noise, temperatures.
    KnownFormat(
        0xA9F3,
        "04FF2304134413426C023B92013BA2013B06FF1BA1015B91015BA10167",
        "Kamstrup flowIQ 2200 / KWM2231 (KAW 3A 16)",
        "[KW] test 'VATTEN' (full frame)",
    ),
    # Engelmann FAW water meter (EFE v0x00): the compact form of its full frame.
    KnownFormat(
        0x052D,
        "426C441301FD17840113C40113840213C40213840313C40313840413C40413840513C40513840613C40613840713C40713840813046D0413",
        "Engelmann FAW (EFE 00 07)",
        "[EF]",
    ),
    # Heat meters: the same mechanism (energy, volume, target date, hour counter, info codes).
    KnownFormat(0xF1E7, "030643060314426C022D01FF21", "Kamstrup Multical 302 (KAM 30 04)", "[KH]"),
    KnownFormat(0x52C2, "030E430E0313426C022D01FF21", "Kamstrup Multical 302 (KAM 30 0C)", "[KH]"),
    KnownFormat(
        0xB34D,
        "040604FF0704FF080414043B0259025D04FF22026C44064414426C",
        "Kamstrup Multical 403 (KAM 34 0C)",
        "[KH]",
    ),
)


def known_formats_by_signature() -> dict[int, bytes]:
    """Signature → format bytes for every row (the table the decoder consults)."""
    return {row.signature: bytes.fromhex(row.format_hex) for row in KNOWN_COMPACT_FORMATS}
