"""OMS telegram encoder — the inverse of the decoder, for tests, simulators and benchmarks.

``encode_oms(...)`` builds a frame as a receiver sees it on air, starting at the L field: link layer
(format A with CRCs, format B, or no CRCs), optional ELL (I plain, II with AES-CTR), AFL for mode 7, TPL
short (0x7A) or long (0x72) header, security mode 0, 5 (AES-CBC, IV = M‖A‖ACC×8, 2F2F check, 2F fillers)
or 7 (KDF-A, CMAC in the AFL, zero IV). Record helpers return ready DIF/VIF/data bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from core.dll import add_format_a_crcs, add_format_b_crcs
from core.ids import manufacturer_code
from decoders import crypto, datetypes, layouts
from decoders.crc import crc16
from decoders.records import parse_header

# --- record helpers -------------------------------------------------------------------------------


def _bcd(value: int, nbytes: int) -> bytes:
    digits = f"{value:0{nbytes * 2}d}"
    if len(digits) > nbytes * 2:
        raise ValueError(f"{value} does not fit {nbytes * 2} BCD digits")
    return bytes.fromhex(digits)[::-1]


def _storage_dif(data_field: int, storage: int, tariff: int = 0, function: int = 0) -> bytes:
    dif = data_field | ((storage & 1) << 6) | (function << 4)
    difes = bytearray()
    rest, tar = storage >> 1, tariff
    while rest or tar:
        difes.append((rest & 0x0F) | ((tar & 3) << 4))
        rest >>= 4
        tar >>= 2
    if not difes:
        return bytes((dif,))
    for i in range(len(difes) - 1):
        difes[i] |= 0x80
    return bytes((dif | 0x80,)) + bytes(difes)


def record(dif: int, vif: bytes | int, data: bytes) -> bytes:
    """A raw record: DIF, VIF (+VIFEs) and data bytes."""
    return bytes((dif,)) + (bytes((vif,)) if isinstance(vif, int) else vif) + data


def volume(m3: float, *, storage: int = 0, tariff: int = 0, bcd: bool = False) -> bytes:
    """Volume in litres (VIF 0x13): 32-bit integer or 8-digit BCD, in a storage/tariff."""
    litres = round(m3 * 1000)
    if bcd:
        return _storage_dif(0x0C, storage, tariff) + b"\x13" + _bcd(litres, 4)
    return _storage_dif(0x04, storage, tariff) + b"\x13" + litres.to_bytes(4, "little", signed=True)


def total_volume(m3: float, *, bcd: bool = False) -> bytes:
    """Current total volume (storage 0)."""
    return volume(m3, bcd=bcd)


def billing_volume(m3: float, *, storage: int = 1, bcd: bool = False) -> bytes:
    """Volume at the billing (target) date, storage 1 by default."""
    return volume(m3, storage=storage, bcd=bcd)


def billing_date(value: date, *, storage: int = 1) -> bytes:
    """Billing (target) date, type G (VIF 0x6C)."""
    return _storage_dif(0x02, storage) + b"\x6c" + datetypes.encode_g(value)


def date_time(value: datetime, *, storage: int = 0) -> bytes:
    """Meter date-time, type F (04 6D)."""
    return _storage_dif(0x04, storage) + b"\x6d" + datetypes.encode_f(value)


def date_time_i(value: datetime) -> bytes:
    """Meter date-time, type I (06 6D)."""
    return b"\x06\x6d" + datetypes.encode_i(value)


def error_flags(value: int, *, nbytes: int = 2) -> bytes:
    """Error flags ``02FD17`` (or 03/04 FD17 for wider fields)."""
    return bytes((nbytes if nbytes != 4 else 4,)) + b"\xfd\x17" + value.to_bytes(nbytes, "little")


def backward_volume(m3: float) -> bytes:
    """Backward (reverse-flow) volume in litres, ``04933C``."""
    return b"\x04\x93\x3c" + round(m3 * 1000).to_bytes(4, "little", signed=True)


def flow(m3h: float) -> bytes:
    """Volume flow in l/h, ``023B``."""
    return b"\x02\x3b" + round(m3h * 1000).to_bytes(2, "little", signed=True)


def battery_days(days: int) -> bytes:
    """Remaining battery lifetime in days, ``02FD74``."""
    return b"\x02\xfd\x74" + days.to_bytes(2, "little")


# --- link layer -----------------------------------------------------------------------------------


def _id_bytes(meter_id: str) -> bytes:
    if len(meter_id) != 8:
        raise ValueError(f"meter id must have 8 digits, got {meter_id!r}")
    return bytes.fromhex(meter_id)[::-1]


def _pad(plain: bytes, n_blocks: int | None) -> tuple[bytes, int]:
    n = -(-len(plain) // 16) if n_blocks is None else n_blocks
    if n > 15 or len(plain) > n * 16:
        raise ValueError(f"{len(plain)} plaintext bytes do not fit {n} AES blocks (max 15)")
    return plain + b"\x2f" * (n * 16 - len(plain)), n


def encode_oms(
    manufacturer: str = "APA",
    meter_id: str = "12345678",
    version: int = 1,
    device_type: int = 0x07,
    access_number: int = 0,
    status: int = 0,
    records: Sequence[bytes] = (),
    *,
    mode: int = 0,
    key: bytes | None = None,
    frame_format: str = "none",
    long_header: bool = False,
    c_field: int = 0x44,
    link_manufacturer: str | None = None,
    link_meter_id: str | None = None,
    link_version: int = 0x01,
    link_device_type: int = 0x37,
    ell: str | None = None,
    cfg_flags: int = 0,
    plain_tail: bytes = b"",
    mcr: int = 1,
    n_blocks: int | None = None,
) -> bytes:
    """Build an OMS telegram (see module docstring); the result starts at the L field.

    ``long_header`` puts the meter address in a CI 0x72 header and the ``link_*`` address (a radio
    converter by default) in the DLL. ``ell`` = ``"I"`` adds a plain ELL-I; ``"II"`` an ELL-II whose
    payload is AES-CTR encrypted with ``key`` (Kamstrup style, then use ``mode=0``). Mode 7 always adds
    ELL-I + AFL. ``plain_tail`` is appended unencrypted after the encrypted blocks (partial encryption).
    """
    m_bytes = manufacturer_code(manufacturer).to_bytes(2, "little")
    a_bytes = _id_bytes(meter_id) + bytes((version, device_type))
    if long_header:
        dll_m = manufacturer_code(link_manufacturer or manufacturer).to_bytes(2, "little")
        dll_a = _id_bytes(link_meter_id or meter_id) + bytes((link_version, link_device_type))
    else:
        dll_m, dll_a = m_bytes, a_bytes
    body = b"".join(records)
    payload, n = _payload(mode, key, body, m_bytes + a_bytes, access_number, n_blocks)
    cfg = cfg_flags | (mode << 8) | (n << 4)
    tpl = _tpl_header(long_header, m_bytes, a_bytes, access_number, status, cfg)
    tail = payload + plain_tail
    if mode == 7:
        tpl_part = tpl + b"\x10"
        ct = _mode7_encrypt(key, mcr, a_bytes[:4], payload)
        tpl_bytes = tpl_part + ct + plain_tail
        afl = _afl(key, mcr, a_bytes[:4], tpl_bytes)
        inner = bytes((0x8C, 0x20, access_number)) + afl + tpl_bytes
    else:
        inner = tpl + tail
    if ell == "I" and mode != 7:
        inner = bytes((0x8C, 0x20, access_number)) + inner
    elif ell == "II":
        inner = _ell_ii(key, dll_m + dll_a, access_number, inner)
    frame = bytes((len(inner) + 9, c_field)) + dll_m + dll_a + inner
    layouts.DLL_HEADER_C.parse(frame[:10])  # sanity: header layout round-trips
    if frame_format == "A":
        return add_format_a_crcs(frame)
    if frame_format == "B":
        return add_format_b_crcs(frame)
    if frame_format != "none":
        raise ValueError(f"frame_format must be 'A', 'B' or 'none', got {frame_format!r}")
    return frame


def _tpl_header(long_header: bool, m: bytes, a: bytes, acc: int, status: int, cfg: int) -> bytes:
    if long_header:
        return b"\x72" + bytes(
            layouts.TPL_LONG_C.build(
                {
                    "id": a[:4],
                    "m": int.from_bytes(m, "little"),
                    "version": a[4],
                    "device_type": a[5],
                    "acc": acc,
                    "status": status,
                    "cfg": cfg,
                }
            )
        )
    return b"\x7a" + bytes(layouts.TPL_SHORT_C.build({"acc": acc, "status": status, "cfg": cfg}))


def _payload(
    mode: int, key: bytes | None, body: bytes, address: bytes, acc: int, n_blocks: int | None
) -> tuple[bytes, int]:
    if mode == 0:
        return body, 0
    if mode not in (5, 7):
        raise ValueError(f"encoder supports security modes 0, 5 and 7, not {mode}")
    if key is None or len(key) != 16:
        raise ValueError(f"mode {mode} needs a 16-byte key")
    plain, n = _pad(b"\x2f\x2f" + body, n_blocks)
    if mode == 5:
        return crypto.aes_cbc_encrypt(key, address + bytes((acc,)) * 8, plain), n
    return plain, n  # mode 7 is encrypted once the AFL counter is known


def _mode7_encrypt(key: bytes | None, mcr: int, meter_id: bytes, plain: bytes) -> bytes:
    assert key is not None
    kenc = crypto.kdf_a(key, 0x00, mcr.to_bytes(4, "little"), meter_id)
    return crypto.aes_cbc_encrypt(kenc, crypto.ZERO_IV, plain)


def _afl(key: bytes | None, mcr: int, meter_id: bytes, tpl_bytes: bytes) -> bytes:
    assert key is not None
    mcr_b = mcr.to_bytes(4, "little")
    kmac = crypto.kdf_a(key, 0x01, mcr_b, meter_id)
    mcl = 0x25  # MCMP + AT 5 (CMAC, 8 bytes)
    mac = crypto.aes_cmac(kmac, bytes((mcl,)) + mcr_b + tpl_bytes)[:8]
    fcl = 0x2C00  # MCLP + MCRP + MACP
    fields = fcl.to_bytes(2, "little") + bytes((mcl,)) + mcr_b + mac
    return bytes((0x90, len(fields))) + fields


def _ell_ii(key: bytes | None, address: bytes, acc: int, inner: bytes) -> bytes:
    cc = 0x20
    if key is None:
        sn = (0).to_bytes(4, "little")
        return bytes((0x8D, cc, acc)) + sn + crc16(inner).to_bytes(2, "little") + inner
    sn = ((1 << 29) | (acc << 4)).to_bytes(4, "little")
    plain = crc16(inner).to_bytes(2, "little") + inner
    counter = address + bytes((cc & ~0x12 & 0xFF,)) + sn + b"\x00\x00\x00"
    return bytes((0x8D, cc, acc)) + sn + crypto.aes_ctr(key, counter, plain)


# --- Kamstrup-style frames: ELL-II + APL without a TPL header (CI 0x78 full / 0x79 compact) --------------


def full_and_compact_apl(records: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The same records as a full APL (``78`` + records) and as a compact one (``79`` + signature + full CRC +
    data values only, fact sheet §2.9). Records must be plain DIF/VIF/data with fixed-length data."""
    formats, values = bytearray(), bytearray()
    for rec in records:
        header, pos = parse_header(rec, 0, len(rec))
        if pos + header.length != len(rec):
            raise ValueError(f"record {rec.hex()} is not one fixed-length record")
        formats += rec[:pos]
        values += rec[pos:]
    body = b"".join(records)
    sig, full_crc = crc16(bytes(formats)), crc16(body)
    return b"\x78" + body, b"\x79" + sig.to_bytes(2, "little") + full_crc.to_bytes(2, "little") + bytes(values)


def encode_ell_apl(
    manufacturer: str,
    meter_id: str,
    version: int,
    device_type: int,
    apl: bytes,
    *,
    key: bytes | None = None,
    access_number: int = 0,
    frame_format: str = "none",
) -> bytes:
    """A frame with an ELL-II (AES-CTR with ``key``, plain without) around a TPL-less APL that starts with its
    CI (0x78 full / 0x79 compact frame, as Kamstrup meters send). Starts at the L field."""
    m_bytes = manufacturer_code(manufacturer).to_bytes(2, "little")
    a_bytes = _id_bytes(meter_id) + bytes((version, device_type))
    inner = _ell_ii(key, m_bytes + a_bytes, access_number, apl)
    frame = bytes((len(inner) + 9, 0x44)) + m_bytes + a_bytes + inner
    if frame_format == "A":
        return add_format_a_crcs(frame)
    if frame_format == "B":
        return add_format_b_crcs(frame)
    return frame


def encode_wired(
    manufacturer: str,
    meter_id: str,
    version: int,
    device_type: int,
    records: Sequence[bytes],
    *,
    access_number: int = 0,
    status: int = 0,
    c_field: int = 0x08,
    primary_address: int = 0,
) -> bytes:
    """A wired M-Bus long frame (EN 13757-2: ``68 L L 68 C A CI … CS 16``, RSP_UD) with a CI 0x72 long header."""
    m = manufacturer_code(manufacturer).to_bytes(2, "little")
    a = _id_bytes(meter_id) + bytes((version, device_type))
    body = bytes((c_field, primary_address)) + _tpl_header(True, m, a, access_number, status, 0) + b"".join(records)
    return bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))
