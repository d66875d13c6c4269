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
from decoders.drivers.base import AlarmBits, Fields
from decoders.frame import Frame
from decoders.model import Record

# TPL status byte bits 2–4 (fact sheet §2.2; wmbusmeters decodeTPLStatusByteOnlyStandardBits).
STATUS_BITS = AlarmBits(current={0x04: Alarm.BATTERY_LOW, 0x08: Alarm.ERROR, 0x10: Alarm.ERROR})
_STATUS_MASK = sum(STATUS_BITS.current)  # bits that can raise an alarm; a status without them needs no look-up
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


_STORED = frozenset({"volume", "date", "datetime"})


def _scan(records: tuple[Record, ...]) -> tuple[dict[str, Record], list[int], dict[int, dict[str, Record]]]:
    """One pass over the records.

    Returns the first storage-0, tariff-0, subunit-0 record of each quantity (instantaneous preferred),
    the integer error-flag values of storage 0, and the first tariff-0, subunit-0 volume/date/datetime
    record with a value per storage ≥ 1 (what :func:`find` would return for the billing-date target).
    """
    first: dict[str, Record] = {}
    flags: list[int] = []
    stored: dict[int, dict[str, Record]] = {}
    for r in records:
        q = r.quantity
        value = r.value
        if r.storage:
            if q in _STORED and not r.tariff and not r.subunit and value is not None:
                per = stored.get(r.storage)
                if per is None:
                    stored[r.storage] = {q: r}
                elif q not in per:
                    per[q] = r
            continue
        if q == "error_flags" and isinstance(value, int):
            flags.append(value)
        if r.tariff or r.subunit or value is None:
            continue
        old = first.get(q)
        if old is None or (old.function != "instantaneous" and r.function == "instantaneous"):
            first[q] = r
    return first, flags, stored


def _stored_target(stored: dict[int, dict[str, Record]]) -> tuple[float | None, date | None]:
    """Billing-date target: the lowest storage ≥ 1 with a numeric volume, and the date of that storage."""
    for s in sorted(stored):
        per = stored[s]
        vol = number(per.get("volume"))
        if vol is None:
            continue
        when = per.get("date") or per.get("datetime")
        value = when.value if when else None
        if isinstance(value, datetime):
            value = value.date()
        return vol, value if isinstance(value, date) else None
    return None, None


def oms_values(
    records: tuple[Record, ...],
    status: int | None,
    error_flags: AlarmBits | None = GENERIC_ERROR_FLAGS,
    use_status: bool = True,
) -> tuple[Any, ...]:
    """The standard fields as a tuple in :data:`OMS_FIELDS` order (alarm sets mutable); see :func:`oms_fields`."""
    first, flags, stored = _scan(records)
    target, target_date = _stored_target(stored) if stored else (None, None)
    get = first.get
    when = get("datetime")
    battery = get("remaining_battery")
    alarms: set[Alarm] = set()
    history: set[Alarm] = set()
    if use_status and status is not None and status & _STATUS_MASK:
        STATUS_BITS.apply(status, alarms, set())
    if error_flags is not None:
        for value in flags:
            if value:  # no bit set, no alarm
                error_flags.apply(value, alarms, history)
    return (
        number(get("volume")),
        target,
        target_date,
        number(get("backward_volume")),
        number(get("flow")),
        when.value if when and isinstance(when.value, datetime) else None,
        alarms,
        history,
        int(battery.value) if battery and isinstance(battery.value, int) else None,
        number(get("voltage")),
    )


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
)


def oms_fields(frame: Frame, error_flags: AlarmBits | None = GENERIC_ERROR_FLAGS, *, use_status: bool = True) -> Fields:
    """Extract the standard fields from a frame's records and status byte."""
    return dict(zip(OMS_FIELDS, oms_values(frame.records, frame.status, error_flags, use_status), strict=True))
