"""The decoder's result types: :class:`Record` (one DIF/VIF data record) and :class:`Telegram`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from core.types import Alarm

Value = int | float | str | bytes | date | datetime | None


class Record(NamedTuple):
    """One application-layer data record, decoded and scaled (an immutable named tuple: cheap to build).

    ``key`` is the hex of the DIF/DIFE/VIF/VIFE bytes (e.g. ``"0413"``), the record's identity that drivers
    match on. ``value`` is already scaled to ``unit`` (m3, m3/h, …); dates are ``date``/``datetime``.
    """

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
    value: Value

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings, bytes as hex)."""
        return {
            "key": self.key,
            "dif": self.dif,
            "vif": self.vif,
            "vife": self.vife.hex(),
            "storage": self.storage,
            "tariff": self.tariff,
            "subunit": self.subunit,
            "function": self.function,
            "quantity": self.quantity,
            "unit": self.unit,
            "value": json_value(self.value),
        }


def json_value(value: object) -> Any:
    """Convert a decoded value to something ``json.dumps`` accepts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


class HistoryEntry(NamedTuple):
    """One meter-stored past value: a month-end / billing-date register.

    ``storage`` is the storage number the meter gives it (DIF storage number for standard records; for
    proprietary month registers, months back from the meter's date, 1 = the latest month end); ``date`` is the
    date the value belongs to when the meter sends one (or it follows from the register), else None.
    """

    storage: int
    date: date | None
    value_m3: float

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"storage": self.storage, "date": json_value(self.date), "value_m3": self.value_m3}


@dataclass(frozen=True, slots=True)
class Telegram:
    """A decoded wM-Bus/OMS telegram, normalised across drivers.

    Identity comes from the TPL long header when present (the DLL address then belongs to a radio
    converter). ``alarms`` are current conditions only; "was/previous" flags go to ``alarms_history``.
    ``payload_digest`` is blake2b-8 of the decrypted application payload (dedupe key with the meter and
    access number). ``history`` lists the meter-stored past volumes (storage number, date, m³) in storage
    order; the historic alarm flags that go with them are ``alarms_history``.
    """

    meter_id: str
    manufacturer: str
    version: int
    device_type: int
    medium: str
    access_number: int | None
    status: int | None
    security_mode: int
    driver: str
    total_m3: float | None = None
    target_m3: float | None = None
    target_date: date | None = None
    total_backward_m3: float | None = None
    flow_m3h: float | None = None
    meter_datetime: datetime | None = None
    alarms: frozenset[Alarm] = frozenset()
    alarms_history: frozenset[Alarm] = frozenset()
    battery_days: int | None = None
    battery_v: float | None = None
    records: tuple[Record, ...] = ()
    payload_digest: bytes = b""
    ci: int = 0
    link_manufacturer: str = ""
    link_meter_id: str = ""
    history: tuple[HistoryEntry, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object the CLI prints: every field, alarms as sorted name lists."""
        return {
            "meter_id": self.meter_id,
            "manufacturer": self.manufacturer,
            "version": self.version,
            "device_type": self.device_type,
            "medium": self.medium,
            "access_number": self.access_number,
            "status": self.status,
            "security_mode": self.security_mode,
            "driver": self.driver,
            "total_m3": self.total_m3,
            "target_m3": self.target_m3,
            "target_date": json_value(self.target_date),
            "total_backward_m3": self.total_backward_m3,
            "flow_m3h": self.flow_m3h,
            "meter_datetime": json_value(self.meter_datetime),
            "alarms": sorted(a.value for a in self.alarms),
            "alarms_history": sorted(a.value for a in self.alarms_history),
            "battery_days": self.battery_days,
            "battery_v": self.battery_v,
            "records": [r.to_json_dict() for r in self.records],
            "payload_digest": self.payload_digest.hex(),
            "ci": self.ci,
            "link_manufacturer": self.link_manufacturer,
            "link_meter_id": self.link_meter_id,
            "history": [h.to_json_dict() for h in self.history],
        }


class _TelegramSlots:
    """Same slot layout as :class:`Telegram`, without the frozen ``__setattr__``: the decoder fills one with
    plain attribute stores, then turns it into a Telegram (``__class__`` assignment, allowed between classes
    with identical slots). Cheaper than the generated frozen ``__init__`` (keyword binding plus
    ``object.__setattr__`` by name per field) or calling each slot descriptor's ``__set__``.
    """

    __slots__ = Telegram.__slots__
    meter_id: str
    manufacturer: str
    version: int
    device_type: int
    medium: str
    access_number: int | None
    status: int | None
    security_mode: int
    driver: str
    total_m3: float | None
    target_m3: float | None
    target_date: date | None
    total_backward_m3: float | None
    flow_m3h: float | None
    meter_datetime: datetime | None
    alarms: frozenset[Alarm]
    alarms_history: frozenset[Alarm]
    battery_days: int | None
    battery_v: float | None
    records: tuple[Record, ...]
    payload_digest: bytes
    ci: int
    link_manufacturer: str
    link_meter_id: str
    history: tuple[HistoryEntry, ...]


if tuple(_TelegramSlots.__annotations__) != tuple(Telegram.__dataclass_fields__):
    raise TypeError("_TelegramSlots must list Telegram's fields in order")
_N_FIELDS = len(Telegram.__dataclass_fields__)
_new_object = object.__new__


def telegram_from_values(values: tuple[Any, ...]) -> Telegram:
    """A :class:`Telegram` from all of its field values, in declaration order (the decoder's fast path).

    The result is an ordinary, equal, hashable, immutable Telegram.
    """
    if len(values) != _N_FIELDS:
        raise TypeError(f"Telegram has {_N_FIELDS} fields, got {len(values)} values")
    tg = _new_object(_TelegramSlots)
    (
        tg.meter_id,
        tg.manufacturer,
        tg.version,
        tg.device_type,
        tg.medium,
        tg.access_number,
        tg.status,
        tg.security_mode,
        tg.driver,
        tg.total_m3,
        tg.target_m3,
        tg.target_date,
        tg.total_backward_m3,
        tg.flow_m3h,
        tg.meter_datetime,
        tg.alarms,
        tg.alarms_history,
        tg.battery_days,
        tg.battery_v,
        tg.records,
        tg.payload_digest,
        tg.ci,
        tg.link_manufacturer,
        tg.link_meter_id,
        tg.history,
    ) = values
    tg.__class__ = Telegram  # type: ignore[assignment]
    return tg  # type: ignore[return-value]
