"""Receiver drivers: one module per dongle family (pure framer + init recipe), a thin serial loop, simulators.

``open_receiver(kind, port, link_mode=…, source=…)`` starts a :class:`~hardware.receiver.Receiver` whose
frames come out as :class:`core.types.RawFrame`. This package knows no meters and decodes no payloads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from hardware.base import Driver
from hardware.errors import HardwareError, InitError, UnknownReceiverError
from hardware.receiver import Receiver, ReceiverStats

# kind → "module:DriverClass"; imported lazily so one broken driver does not break the others.
DRIVERS: dict[str, str] = {
    "im871a": "hardware.im871a:Im871aDriver",
    "im170a": "hardware.im871a:Im871aDriver",
    "amb8465": "hardware.amber:AmberDriver",
    "amb8665": "hardware.amber:AmberDriver",
    "amber": "hardware.amber:AmberDriver",
    "cul": "hardware.cul:CulDriver",
    "rc1180": "hardware.rc1180:Rc1180Driver",
    "iu891a": "hardware.iu891a:Iu891aDriver",
    "esp32": "hardware.esp32_bridge:Esp32BridgeDriver",
    "rtlwmbus": "hardware.rtlwmbus:RtlWmbusDriver",
    "rtl433": "hardware.rtl433:Rtl433Driver",
}
# RC1180 first: it would take other probes as data; iU891A last: its wake-up run of 0xC0 bytes is the least
# harmless to the others
PROBE_ORDER = ("rc1180", "im871a", "amb8465", "cul", "iu891a")


def get_driver(kind: str) -> Driver:
    """The driver registered under ``kind`` (case-insensitive)."""
    target = DRIVERS.get(kind.lower())
    if target is None:
        raise UnknownReceiverError(f"unknown receiver {kind!r}; known: {', '.join(sorted(DRIVERS))}")
    module, cls = target.split(":")
    factory: Callable[[], Driver] = getattr(importlib.import_module(module), cls)
    return factory()


NETWORK_SCHEMES = ("tcp://", "tcp-connect://", "udp://", "mqtt://", "mqtts://")


def resolve_kind(kind: str, port: str) -> str:
    """``kind``, or for ``auto`` the family that answers on ``port`` (bridge URLs: ``esp32``); HardwareError
    when nothing answers."""
    if kind.lower() != "auto":
        return kind
    if port.lower().startswith(NETWORK_SCHEMES):
        return "esp32"
    from hardware.probe import probe

    found = probe(port)
    if found is None:
        raise InitError(f"{port}: no known receiver answered (tried {', '.join(PROBE_ORDER)}); give the kind "
                        "(see 'odczyt receivers list')")
    return found.kind


def open_receiver(kind: str, port: str, *, link_mode: str = "T1", source: str = "gw-1",
                  start: bool = True, **options: Any) -> Receiver:
    """Open a receiver of ``kind`` (or ``auto``: :func:`resolve_kind`) on ``port`` and (by default) start reading.

    ``options`` go to :class:`Receiver`: ``silence_reset_s``, ``backoff_max_s``, ``baudrate``, ``on_frame``.
    """
    driver = get_driver(resolve_kind(kind, port))
    check_port = getattr(driver, "check_port", None)  # network bridges: their URL, before any thread starts
    if check_port is not None:
        check_port(port)
    if getattr(driver, "opener", None) is not None:
        options.setdefault("opener", driver.opener)  # type: ignore[attr-defined]
    receiver = Receiver(driver, port, link_mode=link_mode, source=source, **options)
    return receiver.start() if start else receiver


__all__ = ["DRIVERS", "HardwareError", "InitError", "Receiver", "ReceiverStats", "UnknownReceiverError",
           "get_driver", "open_receiver", "resolve_kind"]
