"""Application layer: the table-driven DIF/DIFE/VIF/VIFE record loop (EN 13757-3, fact sheet §3).

A record is ``DIF [DIFE…] VIF [VIFE…] data``. The loop reads headers with plain table look-ups (DIF data
length, VIF tables from :mod:`decoders.vif`) and decodes values by coding: integer (LE, two's complement),
BCD (LSB first, leading F = negative), IEEE float, LVAR, and date types G/F/I/J.

Special DIFs: 0x2F idle filler (skipped), 0x0F/0x1F manufacturer data to the end (returned for the
driver), 0x7F global readout (no data).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import NamedTuple

from decoders import datetypes, vif
from decoders.errors import ApplicationError
from decoders.model import Record, Value

# Data field (DIF bits 3–0) → length in bytes; -1 = LVAR; -2 = special function (§3.1).
DATA_LENGTH = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, -2)
BCD_FIELDS = frozenset({0x9, 0xA, 0xB, 0xC, 0xE})
FUNCTIONS = ("instantaneous", "maximum", "minimum", "error")
_INT_FIELDS = frozenset({1, 2, 3, 4, 6, 7})
_POW10 = tuple(10**i for i in range(40))
MAX_DIFE = 10
MAX_VIFE = 10


class Header(NamedTuple):
    """A parsed DIB/VIB: everything about a record except its data."""

    key: str
    dif: int
    vif: int
    vife: bytes
    storage: int
    tariff: int
    subunit: int
    function: str
    quantity: str
    unit: str
    exponent: int
    kind: str
    data_field: int
    length: int


class ParsedRecords(NamedTuple):
    """Result of the record loop: records, trailing manufacturer data (after 0x0F/0x1F), more-follows flag.

    ``unparsed`` holds trailing bytes that did not form a record after at least one good record (some meters
    append garbage or a checksum; wmbusmeters ignores it too).
    """

    records: tuple[Record, ...]
    manufacturer_data: bytes | None
    more_follows: bool
    unparsed: bytes = b""


def _err(msg: str, pos: int) -> ApplicationError:
    return ApplicationError(f"APL record at offset {pos}: {msg}")


def parse_header(buf: bytes, pos: int, end: int) -> tuple[Header, int]:
    """Parse one record header (DIF…VIFE) at ``pos``; returns the header and the data offset."""
    start = pos
    dif = buf[pos]
    pos += 1
    storage = (dif >> 6) & 1
    tariff = subunit = 0
    ext = dif & 0x80
    k = 0
    while ext:
        if pos >= end or k >= MAX_DIFE:
            raise _err("DIFE chain runs past the data" if pos >= end else "more than 10 DIFEs", start)
        dife = buf[pos]
        pos += 1
        storage |= (dife & 0x0F) << (1 + 4 * k)
        tariff |= ((dife >> 4) & 3) << (2 * k)
        subunit |= ((dife >> 6) & 1) << k
        ext = dife & 0x80
        k += 1
    if pos >= end:
        raise _err("missing VIF", start)
    vif_byte = buf[pos]
    pos += 1
    code = vif_byte & 0x7F
    vife_start = pos
    ext = vif_byte & 0x80
    unit_text = ""
    if code == 0x7C:  # plain-text VIF: length, then the unit characters (LSB first)
        if pos >= end or pos + 1 + buf[pos] > end:
            raise _err("plain-text VIF runs past the data", start)
        n = buf[pos]
        unit_text = buf[pos + 1 : pos + 1 + n][::-1].decode("latin-1")
        pos += 1 + n
        info = vif.VifInfo("plain_text", unit_text, 0, "num")
    elif code == 0x7B or code == 0x7D:
        if not ext or pos >= end:
            raise _err(f"VIF 0x{vif_byte:02x} without its extension byte", start)
        table_code = buf[pos]
        pos += 1
        info = (vif.FB if code == 0x7B else vif.FD)[table_code & 0x7F] or vif.UNKNOWN
        ext = table_code & 0x80
    else:
        info = vif.PRIMARY[code] or vif.UNKNOWN
    quantity, exponent = info.quantity, info.exponent
    n_vife = 0
    mfct = code == 0x7F
    while ext:
        if pos >= end or n_vife >= MAX_VIFE:
            raise _err("VIFE chain runs past the data" if pos >= end else "more than 10 VIFEs", start)
        vife = buf[pos]
        pos += 1
        n_vife += 1
        ext = vife & 0x80
        if mfct:
            continue
        c = vife & 0x7F
        if c in vif.COMBINABLE_QUANTITY:
            quantity = f"{vif.COMBINABLE_QUANTITY[c]}_{quantity}"
        elif c == 0x7F:
            mfct = True
        else:
            adj = vif.combinable_exponent(vife)
            if adj is not None:
                exponent += adj
    if pos > end:
        raise _err("header runs past the data", start)
    header = Header(
        buf[start:pos].hex(),
        dif,
        vif_byte,
        bytes(buf[vife_start:pos]),
        storage,
        tariff,
        subunit,
        FUNCTIONS[(dif >> 4) & 3],
        quantity,
        info.unit,
        exponent,
        info.kind,
        dif & 0x0F,
        DATA_LENGTH[dif & 0x0F],
    )
    return header, pos


def _bcd(raw: bytes) -> int | None:
    text = raw[::-1].hex()
    if not text:
        return None
    if text[0] == "f":
        if text.count("f") == len(text):
            return None
        body = text[1:]
        return -int(body) if body.isdigit() else None
    return int(text) if text.isdigit() else None


def _number(h: Header, raw: bytes) -> int | float | None:
    field = h.data_field
    if field in BCD_FIELDS:
        return _bcd(raw)
    if field == 5:
        return float(struct.unpack("<f", raw)[0])
    signed = h.kind in ("num", "count") and h.quantity != "manufacturer_specific"
    return int.from_bytes(raw, "little", signed=signed)


def _scaled(number: int | float, exponent: int) -> float:
    if exponent < 0:
        return float(number / 10 ** (-exponent))
    return float(number * 10**exponent)


def _date_value(h: Header, raw: bytes) -> Value:
    n = len(raw)
    if n == 2:
        return datetypes.type_g(raw[0], raw[1])
    if n == 4:
        dt = datetypes.type_f(raw)
        if h.kind == "date":
            return dt.date() if dt else datetypes.type_g(raw[2], raw[3])
        return dt
    if n == 6:
        return datetypes.type_i(raw)
    if n == 3:
        return datetypes.type_j(raw)
    return raw


def _value(h: Header, raw: bytes) -> Value:
    kind = h.kind
    if kind == "date" or kind == "datetime":
        if h.data_field in BCD_FIELDS or h.data_field in (5, 0xD):
            return raw
        return _date_value(h, raw)
    if kind == "ident":
        if h.data_field in BCD_FIELDS:
            return raw[::-1].hex().upper()
        return str(int.from_bytes(raw, "little")) if raw else ""
    if kind == "raw" and h.data_field not in (1, 2, 3, 4, 6, 7):
        return raw
    number = _number(h, raw)
    if number is None or kind != "num":
        return number
    return _scaled(number, h.exponent)


def _lvar(buf: bytes, pos: int, end: int, start: int) -> tuple[Value, int]:
    if pos >= end:
        raise _err("missing LVAR byte", start)
    lv = buf[pos]
    pos += 1
    if lv <= 0xBF:
        n = lv
    elif lv <= 0xEF:
        n = lv & 0x0F
    elif lv <= 0xFA:
        n = lv - 0xF0
    else:
        raise _err(f"reserved LVAR 0x{lv:02x}", start)
    if pos + n > end:
        raise _err("LVAR data runs past the data", start)
    raw = bytes(buf[pos : pos + n])
    if lv <= 0xBF:
        return raw[::-1].decode("latin-1"), pos + n
    if lv <= 0xCF:
        return _bcd(raw), pos + n
    if lv <= 0xDF:
        val = _bcd(raw)
        return (None if val is None else -val), pos + n
    if lv <= 0xEF:
        return int.from_bytes(raw, "little", signed=True), pos + n
    return raw, pos + n


def read_value(h: Header, buf: bytes, pos: int, end: int) -> tuple[Record, int]:
    """Read the data of a record whose header was parsed; returns the record and the next offset."""
    n = DATA_LENGTH[h.data_field]
    if n == -1:
        value, pos = _lvar(buf, pos, end, pos)
        if isinstance(value, int) and h.kind == "num":
            value = _scaled(value, h.exponent)
    else:
        if pos + n > end:
            raise _err(f"record {h.key} needs {n} data bytes, {end - pos} left", pos)
        field = h.data_field
        if h.kind == "num" and field in _INT_FIELDS:  # the common case, inlined
            number = int.from_bytes(buf[pos : pos + n], "little", signed=True)
            exp = h.exponent
            value = number / _POW10[-exp] if exp < 0 else float(number * 10**exp)
        else:
            value = _value(h, bytes(buf[pos : pos + n])) if n else None
        pos += n
    rec = Record(h.key, h.dif, h.vif, h.vife, h.storage, h.tariff, h.subunit, h.function, h.quantity, h.unit, value)
    return rec, pos


# A common-header table entry: the record's first ten fields (a prefix of the Record tuple), the data length
# (always > 0), for scaled integers (kind "num", integer data field) the divisor or multiplier that
# ``read_value`` would apply (0 = not a scaled integer), for other kinds a converter from the data bytes to the
# value, and for divided integers of 1, 2, 4 or 8 bytes a ``struct`` reader (``unpack_from``: no slice).
Reader = Callable[[bytes, int], tuple[int]]
Common = tuple[tuple[object, ...], int, int, int, Callable[[bytes], Value] | None, Reader | None]
_READERS: dict[int, Reader] = {n: struct.Struct("<" + "bh_i___q"[n - 1]).unpack_from for n in (1, 2, 4, 8)}


def _converter(h: Header) -> Callable[[bytes], Value]:
    if h.data_field in _INT_FIELDS and h.kind in ("flags", "count"):
        return _signed if h.kind == "count" and h.quantity != "manufacturer_specific" else _unsigned
    if h.data_field == 2 and h.kind in ("date", "datetime"):
        return _type_g_bytes
    if h.data_field == 4 and h.kind == "datetime":
        return _type_f_bytes
    return partial(_value, h)


# Converters of the common table: plain functions (a ``partial`` with keywords costs more than the work).
_from_bytes = int.from_bytes


def _unsigned(raw: bytes) -> int:
    return _from_bytes(raw, "little")


def _signed(raw: bytes) -> int:
    return _from_bytes(raw, "little", signed=True)


def _type_g_bytes(raw: bytes) -> Value:
    """:func:`datetypes.type_g` of two data bytes, inlined."""
    b0, b1 = raw
    if b0 == 0xFF and b1 == 0xFF:
        return None
    try:
        return date(2000 + (((b0 & 0xE0) >> 5) | ((b1 & 0xF0) >> 1)), b1 & 0x0F, b0 & 0x1F)
    except ValueError:
        return None


def _type_f_bytes(raw: bytes) -> Value:
    """:func:`datetypes.type_f` of four data bytes, inlined."""
    b0, b1, b2, b3 = raw
    if b0 & 0x80:  # IV bit: time invalid
        return None
    try:
        return datetime(2000 + (((b2 & 0xE0) >> 5) | ((b3 & 0xF0) >> 1)), b3 & 0x0F, b2 & 0x1F, b1 & 0x1F, b0 & 0x3F)
    except ValueError:
        return None


def _common_entry(h: Header) -> Common:
    fast = h.kind == "num" and h.data_field in _INT_FIELDS
    exp = h.exponent
    div = _POW10[-exp] if fast and exp <= 0 else 0
    mul = 10**exp if fast and exp > 0 else 0
    prefix = (h.key, h.dif, h.vif, h.vife, h.storage, h.tariff, h.subunit, h.function, h.quantity, h.unit)
    return prefix, h.length, div, mul, None if fast else _converter(h), _READERS.get(h.length) if div else None


def common_entry(dif: int, vif_byte: int, code: int) -> Common | None:
    """The table entry of ``DIF VIF`` (``vif_byte`` < 0x80, ``code`` ignored) or ``DIF FD code``
    (``vif_byte`` 0xFD, ``code`` < 0x80), or None when that header is not a common one (DIFE, special DIF,
    LVAR or no data, VIF 0x7B–0x7D)."""
    field = dif & 0x0F
    if dif >= 0x80 or DATA_LENGTH[field] <= 0:
        return None
    if vif_byte == 0xFD:
        if not 0 <= code < 0x80:
            return None
        vib, info = bytes((0xFD, code)), vif.FD[code] or vif.UNKNOWN
    elif 0 <= vif_byte < 0x80 and vif_byte not in (0x7B, 0x7C, 0x7D):
        vib, info = bytes((vif_byte,)), vif.PRIMARY[vif_byte] or vif.UNKNOWN
    else:
        return None
    return _common_entry(
        Header(
            (bytes((dif,)) + vib).hex(),
            dif,
            vif_byte,
            vib[1:],
            (dif & 0x40) >> 6,
            0,
            0,
            FUNCTIONS[(dif >> 4) & 3],
            info.quantity,
            info.unit,
            info.exponent,
            info.kind,
            field,
            DATA_LENGTH[field],
        )
    )


def common_headers() -> tuple[dict[int, Common], dict[int, Common]]:
    """Every header of one DIF (no DIFE, fixed data length) and one primary VIF or ``FD xx`` (no further VIFE),
    parsed once: ``dif << 8 | vif`` and ``dif << 8 | code`` for ``DIF FD code`` (the complete tables, ~24,000
    entries; :data:`COMMON_HEADERS` and :data:`COMMON_FD_HEADERS` hold the part met so far)."""
    two: dict[int, Common] = {}
    fd: dict[int, Common] = {}
    for dif in range(0x80):
        for v in range(0x80):
            entry = common_entry(dif, v, 0)
            if entry is not None:
                two[dif << 8 | v] = entry
            entry = common_entry(dif, 0xFD, v)
            if entry is not None:
                fd[dif << 8 | v] = entry
    return two, fd


# The inline tables of :func:`parse_records` (and ``decoders.drivers.oms.parse_oms``), keyed as in
# :func:`common_headers`. Building all ~24,000 entries costs ~70 ms, most of a one-telegram ``odczyt decode``
# start-up, so they start empty and :func:`general_record` adds each common header the first time it decodes
# one (a memo of a pure function: the record is the same either way, only the next one is faster). The hot
# path is unchanged (one ``dict.get``); a key absent (not met yet, or not common) takes the general path.
COMMON_HEADERS: dict[int, Common] = {}
COMMON_FD_HEADERS: dict[int, Common] = {}
_new_tuple = tuple.__new__


def parse_records(buf: bytes, pos: int = 0, end: int | None = None) -> ParsedRecords:
    """Run the record loop over ``buf[pos:end]``: common headers (:data:`COMMON_HEADERS`,
    :data:`COMMON_FD_HEADERS`) decoded inline, anything else through :func:`parse_header` / :func:`read_value`."""
    stop = len(buf) if end is None else end
    out: list[Record] = []
    append, common, common_fd = out.append, COMMON_HEADERS.get, COMMON_FD_HEADERS.get
    from_bytes = _from_bytes
    while pos < stop:
        if pos + 1 < stop:
            entry = common(buf[pos] << 8 | buf[pos + 1])
            nxt = pos + 2
            if entry is None and buf[pos + 1] == 0xFD and nxt < stop:
                entry = common_fd(buf[pos] << 8 | buf[nxt])
                nxt += 1
            if entry is not None:
                prefix, n, div, mul, convert, read = entry
                data_end = nxt + n
                if data_end <= stop:
                    if read is not None:
                        value: Value = read(buf, nxt)[0] / div
                    elif convert is not None:
                        value = convert(buf[nxt:data_end])
                    elif div:
                        value = from_bytes(buf[nxt:data_end], "little", signed=True) / div
                    else:
                        value = float(from_bytes(buf[nxt:data_end], "little", signed=True) * mul)
                    append(_new_tuple(Record, prefix + (value,)))  # noqa: RUF005 - faster than (*prefix, value)
                    pos = data_end
                    continue
        dif = buf[pos]
        if dif == 0x2F:  # idle filler (pads encrypted payloads, often a run of them): skip the whole run
            pos = stop - len(buf[pos:stop].lstrip(b"\x2f"))
            continue
        if dif == 0x7F:  # global readout: no data
            pos += 1
            continue
        if dif == 0x0F or dif == 0x1F:
            return _new_tuple(ParsedRecords, (tuple(out), bytes(buf[pos + 1 : stop]), dif == 0x1F, b""))
        try:
            pos = general_record(buf, pos, stop, append)
        except ApplicationError:
            if not out:
                raise
            return _new_tuple(ParsedRecords, (tuple(out), None, False, bytes(buf[pos:stop])))
    return _new_tuple(ParsedRecords, (tuple(out), None, False, b""))


def general_record(buf: bytes, pos: int, stop: int, append: Callable[[Record], None]) -> int:
    """Decode one record at ``pos`` with :func:`parse_header` / :func:`read_value`, append it, return the next
    offset (raises :class:`ApplicationError`)."""
    if (buf[pos] & 0x0F) == 0x0F:
        raise _err(f"reserved special DIF 0x{buf[pos]:02x}", pos)
    header, nxt = parse_header(buf, pos, stop)
    rec, end = read_value(header, buf, nxt, stop)
    append(rec)
    dif = header.dif
    if dif < 0x80 and header.length > 0:  # maybe a common header not met yet: remember it
        if nxt - pos == 2:
            v = buf[pos + 1]
            if v < 0x80 and (dif << 8 | v) not in COMMON_HEADERS:
                entry = common_entry(dif, v, 0)
                if entry is not None:
                    COMMON_HEADERS[dif << 8 | v] = entry
        elif nxt - pos == 3 and buf[pos + 1] == 0xFD and (dif << 8 | buf[pos + 2]) not in COMMON_FD_HEADERS:
            entry = common_entry(dif, 0xFD, buf[pos + 2])
            if entry is not None:
                COMMON_FD_HEADERS[dif << 8 | buf[pos + 2]] = entry
    return end
