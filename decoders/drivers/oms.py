"""Shared extraction for standard OMS water meters: which records become which Telegram fields.

Rules (wmbusmeters' generic water fields, fact sheet §3): total = instantaneous volume, storage 0, tariff 0,
subunit 0; target (billing-date) = volume of the lowest storage ≥ 1 with the date of the same storage;
backward = volume with combinable VIFE 0x3C; flow = volume flow of storage 0; TPL status bits (§2.2) and
error flags (``xxFD17``) → alarms.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from core.types import Alarm
from decoders import records as apl
from decoders.drivers.base import AlarmBits, Fields
from decoders.drivers.status import STANDARD
from decoders.errors import ApplicationError
from decoders.frame import Frame
from decoders.model import HistoryEntry, Record, Value
from decoders.vif import FD, PRIMARY, UNKNOWN, VifInfo

# TPL status byte bits 2–4 (fact sheet §2.2; wmbusmeters decodeTPLStatusByteOnlyStandardBits); per-manufacturer
# readings of the byte are in ``decoders.drivers.status``.
STATUS_BITS = STANDARD
_STATUS_MASK = sum(STATUS_BITS.current)  # bits that can raise an alarm; a status without them needs no look-up
# How a driver reads the TPL status byte: True = the standard bits above, False = not an alarm source (the
# manufacturer uses the byte otherwise), or the manufacturer's own table (``decoders.drivers.status``).
Status = bool | AlarmBits
# Without a meter-specific table any error flag means "error".
GENERIC_ERROR_FLAGS = AlarmBits(current={0xFFFFFFFF: Alarm.ERROR})


def find(
    records: tuple[Record, ...],
    quantity: str,
    storage: int = 0,
    *,
    tariff: int = 0,
    function: str | None = "instantaneous",
) -> Record | None:
    """First record of ``quantity`` in ``storage`` (tariff 0, subunit 0, given function)."""
    for r in records:
        if (
            r.quantity == quantity
            and r.storage == storage
            and r.tariff == tariff
            and r.subunit == 0
            and (function is None or r.function == function)
            and r.value is not None
        ):
            return r
    return None


def number(rec: Record | None) -> float | None:
    """A record's value as float, None when absent or not numeric."""
    if rec is None or isinstance(rec.value, bool) or not isinstance(rec.value, int | float):
        return None
    return float(rec.value)


def status_alarms(status: int | None, alarms: set[Alarm]) -> None:
    """Standard TPL status bits 2–4 → alarms.

    Bits 0–1 (busy / application error / abnormal condition) are left to drivers: meters use them
    inconsistently (Apator sets 11 in normal operation, Kaden adds its leak bits to it).
    """
    if status is not None and status & _STATUS_MASK:
        STATUS_BITS.apply(status, alarms, set())


# Quantities whose first storage-0 record :func:`oms_values` reads → their slot; the billing-date quantities of
# storage ≥ 1 → theirs.
_FIRST_SLOTS = {"volume": 0, "backward_volume": 1, "flow": 2, "datetime": 3, "remaining_battery": 4, "voltage": 5}
_STORED_SLOTS = {"volume": 0, "date": 1, "datetime": 2}
_INSTANTANEOUS = "instantaneous"


def _float(rec: Record | None) -> float | None:
    """:func:`number`, with the usual float/int values decided by exact type first."""
    if rec is None:
        return None
    value = rec[10]
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    return number(rec)


def oms_values(
    records: tuple[Record, ...],
    status: int | None,
    error_flags: AlarmBits | None = GENERIC_ERROR_FLAGS,
    use_status: Status = True,
) -> tuple[Any, ...]:
    """The standard fields as a tuple in :data:`OMS_FIELDS` order (alarm sets mutable); see :func:`oms_fields`.

    One pass over the records (tuple indices, not field names: ``Record`` is a named tuple):

    * storage 0, tariff 0, subunit 0, value not None: the first record of each wanted quantity, an
      instantaneous one replacing an earlier non-instantaneous one;
    * storage 0, any tariff/subunit/function: integer error-flag values;
    * storage ≥ 1, tariff 0, subunit 0, instantaneous, value not None: the first volume/date/datetime record per
      storage (a stored maximum, minimum or value-during-error — function bits 10/01/11 — is no register).
    """
    first: list[Record | None] = [None, None, None, None, None, None]
    flags: list[int] = []
    stored: dict[int, list[Record | None]] = {}
    for r in records:
        _observe(r, first, flags, stored)
    return oms_finish((first, flags, stored), status, error_flags, use_status)


State = tuple[list[Record | None], list[int], dict[int, list[Record | None]]]


def oms_finish(
    state: State, status: int | None, error_flags: AlarmBits | None = GENERIC_ERROR_FLAGS, use_status: Status = True
) -> tuple[Any, ...]:
    """:func:`oms_values` from what its record pass collected: first records per slot, error-flag values,
    billing-date records per storage."""
    first, flags, stored = state
    target: float | None = None
    target_date: date | None = None
    registers: tuple[HistoryEntry, ...] = ()
    if stored:  # billing-date target: the lowest storage ≥ 1 with a numeric volume, and that storage's date
        if len(stored) == 1:  # the usual telegram, one billing-date register: stored_history inlined
            for s, (vol_rec, date_rec, datetime_rec) in stored.items():
                target = _float(vol_rec)
                if target is not None:
                    when = date_rec or datetime_rec
                    if when is not None:
                        value = when[10]
                        target_date = value if type(value) is date else _record_date(when)
                    registers = (_new_tuple(HistoryEntry, (s, target_date, target)),)
        else:
            registers = stored_history(stored)
            if registers:
                target, target_date = registers[0][2], registers[0][1]
    alarms: set[Alarm] = set()
    history: set[Alarm] = set()
    if use_status and status:
        if use_status is True:
            if status & _STATUS_MASK:
                STATUS_BITS.apply(status, alarms, history)
        else:
            use_status.apply(status, alarms, history)
    if error_flags is not None:
        for value in flags:
            if value:  # no bit set, no alarm
                error_flags.apply(value, alarms, history)
    volume, backward, flow, when, battery, voltage = first
    return (
        None if volume is None else _float(volume),
        target,
        target_date,
        None if backward is None else _float(backward),
        None if flow is None else _float(flow),
        when[10] if when and isinstance(when[10], datetime) else None,
        alarms,
        history,
        int(battery[10]) if battery and isinstance(battery[10], int) else None,
        None if voltage is None else _float(voltage),
        registers,
    )


def _record_date(rec: Record | None) -> date | None:
    if rec is None:
        return None
    value = rec[10]
    if type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def stored_history(stored: dict[int, list[Record | None]]) -> tuple[HistoryEntry, ...]:
    """Storage ≥ 1 volumes with their storage's date (type G date, else date-time), in storage order.

    Entries are built with ``tuple.__new__`` (as records are): the named tuple's generated ``__new__`` is a
    Python call. :func:`oms_finish` inlines the one-register case, which most telegrams are."""
    out = []
    for s in sorted(stored):
        vol_rec, date_rec, datetime_rec = stored[s]
        value = _float(vol_rec)
        if value is not None:
            out.append(_new_tuple(HistoryEntry, (s, _record_date(date_rec or datetime_rec), value)))
    return tuple(out)


def _observe(r: Record, first: list[Record | None], flags: list[int], stored: dict[int, list[Record | None]]) -> None:
    """One record of :func:`oms_values`' pass (also for records the fused loop decodes off its tables)."""
    storage = r[4]
    q = r[8]
    if storage:
        if r[10] is not None and not r[5] and not r[6] and r[7] == _INSTANTANEOUS:
            slot = _STORED_SLOTS.get(q)
            if slot is not None:
                per = stored.get(storage)
                if per is None:
                    per = stored[storage] = [None, None, None]
                if per[slot] is None:
                    per[slot] = r
        return
    slot = _FIRST_SLOTS.get(q)
    if slot is None:
        if q == "error_flags" and isinstance(r[10], int):
            flags.append(r[10])
        return
    if r[5] or r[6] or r[10] is None:
        return
    old = first[slot]
    if old is None or (old[7] != _INSTANTANEOUS and r[7] == _INSTANTANEOUS):
        first[slot] = r


def roles_of(table: dict[int, apl.Common]) -> dict[int, int]:
    """Key → role for the common-table entries whose records the pass reads (tariff and subunit are 0 there,
    storage 0 or 1): storage-0 slot k → k, storage-0 error flags → 6, storage-1 billing slot k → 7 + k."""
    roles: dict[int, int] = {}
    for key, entry in table.items():
        storage, quantity = entry[0][4], entry[0][8]
        if storage:
            if quantity in _STORED_SLOTS and entry[0][7] == _INSTANTANEOUS:
                roles[key] = 7 + _STORED_SLOTS[quantity]
        elif quantity in _FIRST_SLOTS:
            roles[key] = _FIRST_SLOTS[quantity]
        elif quantity == "error_flags":
            roles[key] = 6
    return roles


def _roles(infos: tuple[VifInfo | None, ...], fd: bool) -> dict[int, int]:
    """:func:`roles_of` the complete table (``apl.common_headers()``), from the VIF tables alone: the common
    tables fill as headers are met, and building them whole would cost most of a start-up
    (``tests/decoders/test_oms_values.py`` checks both give the same)."""
    roles: dict[int, int] = {}
    difs = [d for d in range(0x80) if apl.DATA_LENGTH[d & 0x0F] > 0]
    for code in range(0x80):
        if not fd and code in (0x7B, 0x7C, 0x7D):
            continue
        quantity = (infos[code] or UNKNOWN).quantity
        if quantity not in _FIRST_SLOTS and quantity not in _STORED_SLOTS and quantity != "error_flags":
            continue
        for dif in difs:
            if dif & 0x40:
                if quantity in _STORED_SLOTS and apl.FUNCTIONS[(dif >> 4) & 3] == _INSTANTANEOUS:
                    roles[dif << 8 | code] = 7 + _STORED_SLOTS[quantity]
            elif quantity in _FIRST_SLOTS:
                roles[dif << 8 | code] = _FIRST_SLOTS[quantity]
            elif quantity == "error_flags":
                roles[dif << 8 | code] = 6
    return roles


_ROLES = _roles(PRIMARY, False)
_FD_ROLES = _roles(FD, True)
_new_tuple = tuple.__new__
_from_bytes = int.from_bytes


def parse_oms(buf: bytes) -> tuple[tuple[Record, ...], State]:
    """``parse_records(buf).records`` and the pass of :func:`oms_values` over them, in one loop (the decoder's
    fused path); finish with :func:`oms_finish`.

    The loop is :func:`decoders.records.parse_records` (same tables, same general path; trailing manufacturer
    data and unparsed bytes are dropped, the OMS fields do not read them) with each record's role looked up
    by its table key. ``tests/decoders/test_oms_values.py`` checks both against the two-pass result.
    """
    stop = len(buf)
    pos = 0
    out: list[Record] = []
    append, common, common_fd = out.append, apl.COMMON_HEADERS.get, apl.COMMON_FD_HEADERS.get
    first: list[Record | None] = [None, None, None, None, None, None]
    flags: list[int] = []
    stored: dict[int, list[Record | None]] = {}
    from_bytes = _from_bytes
    while pos < stop:
        if pos + 1 < stop:
            key = buf[pos] << 8 | buf[pos + 1]
            entry = common(key)
            roles = _ROLES
            nxt = pos + 2
            if entry is None and buf[pos + 1] == 0xFD and nxt < stop:
                key = buf[pos] << 8 | buf[nxt]
                entry = common_fd(key)
                roles = _FD_ROLES
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
                    rec = _new_tuple(Record, prefix + (value,))  # noqa: RUF005 - faster than (*prefix, value)
                    append(rec)
                    pos = data_end
                    role = roles.get(key)
                    if role is None or value is None:
                        continue
                    if role < 6:
                        old = first[role]
                        if old is None or (old[7] != _INSTANTANEOUS and prefix[7] == _INSTANTANEOUS):
                            first[role] = rec
                    elif role == 6:
                        if isinstance(value, int):
                            flags.append(value)
                    else:
                        per = stored.get(1)
                        if per is None:
                            per = stored[1] = [None, None, None]
                        if per[role - 7] is None:
                            per[role - 7] = rec
                    continue
        dif = buf[pos]
        if dif == 0x2F:
            pos = stop - len(buf[pos:stop].lstrip(b"\x2f"))
            continue
        if dif == 0x7F:
            pos += 1
            continue
        if dif == 0x0F or dif == 0x1F:
            break
        try:
            pos = apl.general_record(buf, pos, stop, append)
        except ApplicationError:
            if not out:
                raise
            break
        _observe(out[-1], first, flags, stored)
    return tuple(out), (first, flags, stored)


OMS_FIELDS = (
    "total_m3",
    "target_m3",
    "target_date",
    "total_backward_m3",
    "flow_m3h",
    "meter_datetime",
    "alarms",
    "alarms_history",
    "battery_days",
    "battery_v",
    "history",
)


def oms_fields(
    frame: Frame, error_flags: AlarmBits | None = GENERIC_ERROR_FLAGS, *, use_status: Status = True
) -> Fields:
    """Extract the standard fields from a frame's records and status byte."""
    return dict(zip(OMS_FIELDS, oms_values(frame.records, frame.status, error_flags, use_status), strict=True))
