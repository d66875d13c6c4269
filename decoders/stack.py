"""The decoding stack: link → [ELL] → [AFL] → TPL + security → APL records → driver → Telegram.

Pure: bytes and a key lookup in, a :class:`~decoders.model.Telegram` out. Any failure is a
:class:`~decoders.errors.DecodeError` subclass naming the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b
from typing import Any

from core.types import Alarm
from decoders import afl as afl_layer
from decoders import drivers, link, security, tables, wire
from decoders import ell as ell_layer
from decoders import records as apl
from decoders import tpl as tpl_layer
from decoders.address import meter_id_text
from decoders.ciphers import CipherCache
from decoders.compact import CompactFormatCache, decode_compact
from decoders.drivers.base import Driver
from decoders.drivers.oms import oms_finish, oms_values, parse_oms
from decoders.errors import DecodeError, DriverError, SecurityError, TplError
from decoders.frame import Frame
from decoders.keys import KeyLookup, default_oms_keys
from decoders.model import Record, Telegram, telegram_from_values

MFCT_SECURITY_MODES = frozenset({1, 4, 15, *range(16, 32)})
_LETTERS = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
_LETTER_PAIRS = tuple(_LETTERS[i >> 5] + _LETTERS[i & 0x1F] for i in range(1024))  # M-field bits 9–0 → 2 letters


def manufacturer_letters(code: int) -> str:
    """M-field → three letters, bit 15 masked (same as ``core.ids.manufacturer_letters``, without a generator)."""
    return _LETTERS[(code >> 10) & 0x1F] + _LETTER_PAIRS[code & 0x3FF]


class _Keys:
    """Per-call memo of the caller's key lookup (the lookup may be slow; ask once per identity)."""

    __slots__ = ("_lookup", "_seen")

    def __init__(self, lookup: KeyLookup | None) -> None:
        self._lookup = lookup
        self._seen: dict[tuple[str, str], tuple[bytes, ...]] = {}

    def __call__(self, manufacturer: str, meter_id: str) -> tuple[bytes, ...]:
        if self._lookup is None:
            return ()
        ident = (manufacturer, meter_id)
        if ident not in self._seen:
            self._seen[ident] = tuple(map(bytes, self._lookup(manufacturer, meter_id)))
        return self._seen[ident]


def _records(kind: str, payload: bytes, cache: CompactFormatCache | None) -> tuple[tuple[Record, ...], bytes | None]:
    if kind == "compact":
        return decode_compact(payload, cache), None
    if kind in ("apl", "response", "apl_format", "alarm", "apl_error"):
        parsed = apl.parse_records(payload)
        if cache is not None and kind == "apl" and parsed.records:
            cache.learn_records(parsed.records)
        return parsed.records, parsed.manufacturer_data
    return (), None


def _decrypt(
    data: bytes,
    ci_pos: int,
    tpl: tpl_layer.Tpl,
    afl: afl_layer.Afl | None,
    ident: tuple[str, bytes, bytes],
    keys: Sequence[bytes],
    ciphers: CipherCache,
) -> bytes:
    mfct, m_bytes, a_bytes = ident
    payload = data[tpl.payload_offset :]
    mode = tpl.security_mode
    if mode == 0:
        return payload
    if mode == 5:
        iv = m_bytes + a_bytes + bytes((tpl.acc or 0,)) * 8
        return security.mode5(payload, iv, tpl.encrypted_blocks, keys, default_oms_keys(mfct), ciphers)
    if mode == 7:
        return security.mode7(data, ci_pos, tpl.payload_offset, tpl.encrypted_blocks, afl, a_bytes[:4], keys, ciphers)
    if mode in (2, 3):
        return security.des(payload, bytes(8), tpl.encrypted_blocks, keys)
    raise SecurityError(f"TPL config word: security mode {mode} not supported", layer="TPL")


def decode_frame(
    frame: bytes, keys: KeyLookup | None, cache: CompactFormatCache | None, ciphers: CipherCache
) -> Telegram:
    """Run every layer over one frame (see module docstring)."""
    lk = link.normalize(frame)
    try:
        data = lk.data
        if not lk.wired and (data[10] == 0x7A or data[10] == 0x72):
            fast = _fast(lk, data, keys, cache, ciphers)
            if fast is not None:
                return fast
        return _decode_link_frame(lk, keys, cache, ciphers)
    except DecodeError as exc:
        _identify(exc, lk)
        raise


def _identify(exc: DecodeError, lk: link.LinkFrame) -> None:
    """Name the meter a failing frame came from: the TPL long header's address when the frame has one (the
    DLL address then belongs to a radio converter or repeater, and keys are looked up by the TPL address),
    else the link address. Wired frames have no link address."""
    data, pos = lk.data, lk.ci_offset
    if pos + 9 <= len(data) and (tables.ci_kind(data[pos]) or ("", ""))[1] == "long":
        exc.identify(manufacturer_letters(data[pos + 5] | data[pos + 6] << 8), meter_id_text(data[pos + 1 : pos + 5]))
    elif not lk.wired:
        exc.identify(manufacturer_letters(lk.m_field), meter_id_text(lk.id_bytes))


def _decode_link_frame(
    lk: link.LinkFrame, keys: KeyLookup | None, cache: CompactFormatCache | None, ciphers: CipherCache
) -> Telegram:
    """The general path: every layer, any frame shape (:func:`_fast` declined it)."""
    data = lk.data
    get = _Keys(keys)
    mfct = link_mfct = manufacturer_letters(lk.m_field)
    meter_id = link_id = meter_id_text(lk.id_bytes)
    version, dtype = lk.version, lk.device_type
    m_bytes, a_bytes = data[2:4], data[4:10]
    pos = lk.ci_offset
    afl = None
    if data[pos] in tables.ELL_CIS:
        _ell, data, pos = ell_layer.parse(data, pos, data[2:10], lambda: get(mfct, meter_id), ciphers)
    if pos < len(data) and data[pos] == tables.AFL_CI:
        afl, pos = afl_layer.parse(data, pos)
    if pos >= len(data):
        raise TplError("TPL: frame ends before the transport layer CI")
    ci = data[pos]
    kind_header = tables.ci_kind(ci)
    tpl = None
    records: tuple[Record, ...] = ()
    mfct_data = None
    if kind_header is None:
        driver = drivers.select(mfct, version, dtype, ci)
        if driver is None:
            raise DriverError(f"CI 0x{ci:02x}: no driver for {mfct} version 0x{version:02x} type 0x{dtype:02x}")
        payload = data[pos + 1 :]
    else:
        tpl = tpl_layer.parse(data, pos)
        if tpl.header == "long":
            mfct = manufacturer_letters(tpl.long_m or 0)
            meter_id = meter_id_text(tpl.long_id or bytes(4))
            version, dtype = tpl.long_version or 0, tpl.long_type or 0
            m_bytes = data[pos + 5 : pos + 7]
            a_bytes = data[pos + 1 : pos + 5] + data[pos + 7 : pos + 9]
        elif lk.wired:
            raise TplError(f"TPL: wired M-Bus frame with CI 0x{ci:02x} has no long header (no meter address)")
        mfct_driver = (
            drivers.select_mfct_security(mfct, version, dtype) if tpl.security_mode in MFCT_SECURITY_MODES else None
        )
        if mfct_driver is not None:
            driver = mfct_driver
            payload = data[tpl.payload_offset :]
            try:  # the driver may want records if the payload happens to be plain
                records, mfct_data = _records(tpl.kind, payload, None)
            except DecodeError:
                records, mfct_data = (), None
        elif tpl.security_mode in MFCT_SECURITY_MODES:
            # Some meters set manufacturer bits in CFG but send plain records (e.g. Diehl Hydrus).
            payload = data[tpl.payload_offset :]
            try:
                records, mfct_data = _records(tpl.kind, payload, cache)
            except DecodeError as exc:
                raise SecurityError(
                    f"TPL config word: security mode {tpl.security_mode} (manufacturer specific) not supported",
                    layer="TPL",
                ) from exc
            driver = drivers.select(mfct, version, dtype) or drivers.GENERIC
        else:
            payload = _decrypt(
                data,
                pos,
                tpl,
                afl,
                (mfct, m_bytes, a_bytes),
                get(mfct, meter_id) if tpl.security_mode else (),
                ciphers,
            )
            # An encrypted compact frame (CI 0x73/0x7B) decrypts to 2F2F + signature + …: the check bytes
            # (verified by the security layer) are not part of the signature.
            plain = payload[2:] if tpl.security_mode and tpl.kind == "compact" else payload
            records, mfct_data = _records(tpl.kind, plain, cache)
            driver = drivers.select(mfct, version, dtype) or drivers.GENERIC
    fr = Frame(
        data,
        lk,
        ci,
        pos,
        mfct,
        meter_id,
        version,
        dtype,
        tpl,
        payload,
        records,
        mfct_data,
        get(mfct, meter_id) if kind_header is None or driver.cis else (),
    )
    return _telegram(fr, driver, link_mfct, link_id)


_TPL_SHORT = wire.TPL_SHORT_FAST.unpack_from
_TPL_LONG = wire.TPL_LONG_FAST.unpack_from


def _fast(
    lk: link.LinkFrame, data: bytes, keys: KeyLookup | None, cache: CompactFormatCache | None, ciphers: CipherCache
) -> Telegram | None:
    """The fused path for the common shape: no ELL/AFL, short (0x7A) or long (0x72) TPL header, security mode 0
    or 5, and a driver whose ``extract`` is :func:`~decoders.drivers.oms.oms_fields` (``Driver.oms``), possibly
    followed by ``Driver.refine``.

    Same steps as the general path without the intermediate ``Tpl``/``Frame``/fields dict; returns None (before
    any side effect, the key lookup included) for anything else, and the general path decodes the frame.
    """
    n = len(data)
    m = lk.m_field
    mfct = link_mfct = _LETTERS[(m >> 10) & 0x1F] + _LETTER_PAIRS[m & 0x3FF]
    meter_id = link_id = lk.id_bytes[::-1].hex()  # meter_id_text
    ci = data[10]
    if ci == 0x7A:
        if n < 15:
            return None
        acc, status, cfg = _TPL_SHORT(data, 11)
        version, dtype = lk.version, lk.device_type
        p = 15
    else:
        if n < 23:
            return None
        lid, m, version, dtype, acc, status, cfg = _TPL_LONG(data, 11)
        mfct = _LETTERS[(m >> 10) & 0x1F] + _LETTER_PAIRS[m & 0x3FF]
        meter_id = lid[::-1].hex()
        p = 23
    mode = (cfg >> 8) & 0x1F
    if mode != 0 and mode != 5:
        return None
    driver = drivers.select_standard(mfct, version, dtype)
    spec = driver.oms
    if spec is None or driver.cis:
        return None
    if mode == 0:
        payload = data[p:]
    else:
        iv = (data[2:10] if ci == 0x7A else data[15:17] + data[11:15] + data[17:19]) + _ACC8[acc]  # M ‖ A ‖ ACC×8
        payload = security.mode5(
            data[p:],
            iv,
            (cfg >> 4) & 0x0F,
            () if keys is None else tuple(map(bytes, keys(mfct, meter_id))),
            default_oms_keys(mfct),
            ciphers,
        )
    records, state = parse_oms(payload)  # parse_records + the oms_values pass, one loop
    if cache is not None and records:
        cache.learn_records(records)
    try:
        values = oms_finish(state, status, spec[0], spec[1])
        alarms, history = values[6], values[7]
        if driver.refine is not None:
            driver.refine(records, status, alarms, history)
    except (ValueError, IndexError, KeyError, TypeError, ArithmeticError) as exc:
        raise DriverError(f"driver {driver.name}: {type(exc).__name__}: {exc}") from exc
    medium = _MEDIUM_NAMES[dtype] if mfct != "TCH" else tables.medium_name(dtype, mfct)
    return _oms_telegram((meter_id, mfct, version, dtype, medium, acc, status, mode), driver, values, records,
                         payload, (ci, link_mfct, link_id))


def _oms_telegram(head: tuple[object, ...], driver: Driver, values: tuple[Any, ...], records: tuple[Record, ...],
                  payload: bytes, tail: tuple[object, ...]) -> Telegram:
    """A telegram from the OMS field values (``drivers.oms.OMS_FIELDS`` order): identity and TPL fields in
    ``head``, ``(ci, link manufacturer, link id)`` in ``tail``."""
    alarms, history = values[6], values[7]
    return telegram_from_values(
        (
            *head,
            driver.name,
            *values[:6],
            frozenset(alarms) if alarms else _NO_ALARMS,
            frozenset(history) if history else _NO_ALARMS,
            values[8],
            values[9],
            records,
            blake2b(payload, digest_size=8).digest(),
            *tail,
            values[10],
        )
    )


_MEDIUM_NAMES = tables.MEDIUM_NAMES
_ACC8 = tuple(bytes((acc,)) * 8 for acc in range(256))  # the access number's half of the mode 5 IV
_NO_ALARMS: frozenset[Alarm] = frozenset()


def _telegram(fr: Frame, driver: Driver, link_mfct: str, link_id: str) -> Telegram:
    spec = driver.oms
    if spec is not None:  # extract is oms_fields(fr, *spec): take its values without the fields dict
        try:
            values = oms_values(fr.records, fr.status, spec[0], spec[1])
            alarms, history = values[6], values[7]
            if driver.refine is not None:
                driver.refine(fr.records, fr.status, alarms, history)
        except (ValueError, IndexError, KeyError, TypeError, ArithmeticError) as exc:
            raise DriverError(f"driver {driver.name}: {type(exc).__name__}: {exc}") from exc
        tpl = fr.tpl
        head = (fr.meter_id, fr.manufacturer, fr.version, fr.device_type,
                tables.medium_name(fr.device_type, fr.manufacturer), tpl.acc if tpl else None,
                tpl.status if tpl else None, tpl.security_mode if tpl else 0)
        return _oms_telegram(head, driver, values, fr.records, fr.payload, (fr.ci, link_mfct, link_id))
    try:
        f = driver.extract(fr)
    except DecodeError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, ArithmeticError) as exc:
        raise DriverError(f"driver {driver.name}: {type(exc).__name__}: {exc}") from exc
    get = f.get
    tpl = fr.tpl
    device_type = get("device_type", fr.device_type)
    return telegram_from_values(
        (
            get("meter_id", fr.meter_id),
            get("manufacturer", fr.manufacturer),
            get("version", fr.version),
            device_type,
            tables.medium_name(device_type, fr.manufacturer),
            get("access_number", tpl.acc if tpl else None),
            get("status", tpl.status if tpl else None),
            get("security_mode", tpl.security_mode if tpl else 0),
            driver.name,
            get("total_m3"),
            get("target_m3"),
            get("target_date"),
            get("total_backward_m3"),
            get("flow_m3h"),
            get("meter_datetime"),
            frozenset(get("alarms", ())),
            frozenset(get("alarms_history", ())),
            get("battery_days"),
            get("battery_v"),
            get("records", fr.records),
            blake2b(get("payload", fr.payload), digest_size=8).digest(),
            fr.ci,
            link_mfct,
            link_id,
            tuple(get("history", ())),
        )
    )
