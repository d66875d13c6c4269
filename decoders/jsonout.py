"""Output shapes of a decoded :class:`~decoders.model.Telegram` for the ``odczyt decode`` command.

* :func:`telegram_dict` — odczyt's own JSON object (``Telegram.to_json_dict``), the per-record list only when
  asked (it is most of the bytes and of the time of a stream).
* :func:`wmbusmeters_dict` — the field names wmbusmeters prints with ``--format=json`` (``_``: ``"telegram"``,
  ``media``, ``meter`` (driver), ``name``, ``id``, ``total_m3``, ``target_m3``, ``flow_m3h``, ``current_status``,
  ``timestamp`` …) so scripts written against wmbusmeters keep working.
* :func:`select` keeps the chosen keys; :func:`fields_line` and :func:`human_line` render the ``fields`` (CSV
  with ``;``, as wmbusmeters' ``--format=fields``) and ``human`` formats.

Values are plain JSON types (dates as ISO strings); no I/O, no clock (the caller passes ``timestamp``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from operator import attrgetter
from typing import Any

from decoders.model import Telegram

DEFAULT_FIELDS = ("meter_id", "manufacturer", "driver", "total_m3", "alarms", "error")
DEFAULT_WMBUSMETERS_FIELDS = ("name", "id", "total_m3", "current_status", "timestamp")


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _names(values: frozenset[Any]) -> list[str]:
    return sorted(a.value for a in values)


def _dicts(values: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [v.to_json_dict() for v in values]


def _converter(annotation: str) -> Callable[[Any], Any] | None:
    if annotation.startswith("frozenset"):
        return _names
    if annotation.startswith("tuple"):
        return _dicts
    if annotation == "bytes":
        return bytes.hex
    if annotation.startswith(("date", "datetime")):
        return _iso
    return None


_FIELDS = tuple(f for f in Telegram.__dataclass_fields__ if f != "records")
_GET_ALL = attrgetter(*_FIELDS)
_INLINED = frozenset({"target_date", "meter_datetime", "alarms", "alarms_history", "payload_digest", "history"})
_OTHER = tuple((name, conv) for name in _FIELDS if name not in _INLINED
               and (conv := _converter(str(Telegram.__dataclass_fields__[name].type))) is not None)


def telegram_dict(tg: Telegram, *, records: bool = False) -> dict[str, Any]:
    """odczyt's JSON object for ``tg`` (``Telegram.to_json_dict``), the per-record list only when ``records``.

    Without records it is built here (the same values, a test holds them equal for every driver case): the
    records' dicts are most of the cost of a stream. Fields that need converting are converted inline, and any
    field added to Telegram later by its annotation (``_OTHER``).
    """
    if records:
        return tg.to_json_dict()
    out = dict(zip(_FIELDS, _GET_ALL(tg), strict=True))
    if tg.target_date is not None:
        out["target_date"] = tg.target_date.isoformat()
    if tg.meter_datetime is not None:
        out["meter_datetime"] = tg.meter_datetime.isoformat()
    alarms, was = tg.alarms, tg.alarms_history
    out["alarms"] = sorted([a.value for a in alarms]) if alarms else []
    out["alarms_history"] = sorted([a.value for a in was]) if was else []
    out["payload_digest"] = tg.payload_digest.hex()
    out["history"] = [h.to_json_dict() for h in tg.history] if tg.history else []
    for name, conv in _OTHER:
        out[name] = conv(out[name])
    return out


def wmbusmeters_dict(tg: Telegram, timestamp: str, name: str = "") -> dict[str, Any]:
    """The object wmbusmeters prints for this telegram (its field names; odczyt's values).

    ``timestamp`` is the reception time as wmbusmeters writes it (``2024-03-03T18:37:00Z``). Status is
    ``"OK"`` or the current alarms in upper case separated by spaces, as wmbusmeters' ``current_status``.
    """
    out: dict[str, Any] = {
        "_": "telegram",
        "media": tg.medium,  # EN 13757-4 names, as wmbusmeters' mediaType()
        "meter": tg.driver,
        "name": name,
        "id": tg.meter_id,
        "manufacturer": tg.manufacturer,
        "total_m3": tg.total_m3,
    }
    optional = {
        "target_m3": tg.target_m3,
        "target_date": tg.target_date.isoformat() if tg.target_date else None,
        "total_backward_m3": tg.total_backward_m3,
        "flow_m3h": tg.flow_m3h,
        "meter_datetime": tg.meter_datetime.isoformat(sep=" ") if tg.meter_datetime else None,
        "battery_v": tg.battery_v,
    }
    out.update((k, v) for k, v in optional.items() if v is not None)
    alarms = sorted(a.value.upper() for a in tg.alarms)
    out["current_status"] = " ".join(alarms) if alarms else "OK"
    out["timestamp"] = timestamp
    return out


def select(obj: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Only the ``fields`` of ``obj``, in that order (a field the object lacks is null)."""
    return {f: obj.get(f) for f in fields}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def fields_line(obj: dict[str, Any], fields: Sequence[str], sep: str = ";") -> str:
    """One line of ``fields`` separated by ``sep`` (empty for null, lists joined by commas)."""
    return sep.join(_text(obj.get(f)).replace(sep, " ") for f in fields)


def human_line(obj: dict[str, Any]) -> str:
    """A line for people, as wmbusmeters' default output: id, driver, total with its unit, status, time."""
    meter = str(obj.get("id") or obj.get("meter_id") or "?")
    if obj.get("ok") is False:
        return f"{meter}\tERROR\t{obj.get('error')}"
    total = obj.get("total_m3")
    status = obj.get("current_status") or (" ".join(obj.get("alarms") or []).upper() or "OK")
    parts = [meter, str(obj.get("meter") or obj.get("driver") or ""),
             "-" if total is None else f"{total:.3f} m³", status]
    when = obj.get("meter_datetime") or obj.get("timestamp")
    if when:
        parts.append(str(when))
    return "\t".join(parts)
