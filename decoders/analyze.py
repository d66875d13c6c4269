"""Which drivers could decode a telegram, and what each gives (``odczyt decode --analyze``, like
``wmbusmeters --analyze``).

:func:`analyze` decodes the frame once as usual (the driver detection picks), then once per driver with that
driver forced: the selection functions of :mod:`decoders.drivers` are replaced for the duration of one decode
by a function that names the forced driver (the stack looks them up on the module at each call), and put back
afterwards. That is a temporary change of module state: call it from one thread (the CLI), never from a
worker that decodes concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from decoders import drivers
from decoders.drivers.base import Driver
from decoders.errors import DecodeError
from decoders.hexinput import frame_from_hex
from decoders.keys import KeyLookup
from decoders.model import Telegram

_STANDARD = drivers._STANDARD_CIS  # the selection's standard-CI split


@contextmanager
def forced(driver: Driver) -> Iterator[None]:
    """Within the block, every driver selection answers ``driver`` (see the module docstring)."""

    def select(manufacturer: str, version: int, device_type: int, ci: int | None = None) -> Driver | None:
        if ci is not None and ci not in _STANDARD:
            return driver if ci in driver.cis else None
        return driver

    def select_standard(manufacturer: str, version: int, device_type: int) -> Driver:
        return driver

    def select_mfct_security(manufacturer: str, version: int, device_type: int) -> Driver | None:
        return driver if driver.mfct_security else None

    saved = drivers.select, drivers.select_standard, drivers.select_mfct_security
    drivers.select, drivers.select_standard, drivers.select_mfct_security = (
        select, select_standard, select_mfct_security)
    try:
        yield
    finally:
        drivers.select, drivers.select_standard, drivers.select_mfct_security = saved


def _summary(tg: Telegram, driver: Driver | None) -> dict[str, Any]:
    return {
        "ok": True,
        "detected": driver is None or driver.detects(tg.manufacturer, tg.version, tg.device_type),
        "meter_id": tg.meter_id,
        "manufacturer": tg.manufacturer,
        "total_m3": tg.total_m3,
        "target_m3": tg.target_m3,
        "flow_m3h": tg.flow_m3h,
        "alarms": sorted(a.value for a in tg.alarms),
        "fields": sum(1 for f in ("total_m3", "target_m3", "target_date", "flow_m3h", "meter_datetime",
                                  "total_backward_m3", "battery_days", "battery_v") if getattr(tg, f) is not None),
    }


def _attempt(decode: Callable[[], Telegram], driver: Driver | None = None) -> dict[str, Any]:
    try:
        return _summary(decode(), driver)
    except DecodeError as exc:
        return {"ok": False, "error": str(exc), "error_layer": exc.layer}


def _any_meter(key: bytes) -> KeyLookup:
    def lookup(_manufacturer: str, _meter_id: str) -> tuple[bytes, ...]:
        return (key,)

    return lookup


def analyze(telegram_hex: str, key: bytes | None = None) -> dict[str, Any]:
    """The automatic result and one entry per driver: those that decode first, then those whose detection keys
    name this meter (``detected``), then the most fields.

    Raises :class:`~decoders.errors.InputError` when the text is not a frame.
    """
    from decoders import Decoder

    frame = frame_from_hex(telegram_hex)
    keys = None if key is None else _any_meter(key)
    auto = _attempt(lambda: Decoder(keys).decode(frame))
    if auto["ok"]:
        auto["driver"] = Decoder(keys).decode(frame).driver
    results = []
    for driver in drivers.ALL_DRIVERS:
        with forced(driver):
            entry = _attempt(lambda: Decoder(keys).decode(frame), driver)
        entry["driver"] = driver.name
        entry["description"] = driver.description
        results.append(entry)
    results.sort(key=lambda e: (not e["ok"], not e.get("detected"), -e.get("fields", 0)))
    return {"telegram": frame.hex(), "auto": auto, "drivers": results}
