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
    "rtlwmbus": "hardware.rtlwmbus:RtlWmbusDriver",
    "rtl433": "hardware.rtl433:Rtl433Driver",
}
PROBE_ORDER = ("rc1180", "im871a", "amb8465", "cul")  # RC1180 first: it would take other probes as data


def get_driver(kind: str) -> Driver:
    """The driver registered under ``kind`` (case-insensitive)."""
    target = DRIVERS.get(kind.lower())
    if target is None:
        raise UnknownReceiverError(f"unknown receiver {kind!r}; known: {', '.join(sorted(DRIVERS))}")
    module, cls = target.split(":")
    factory: Callable[[], Driver] = getattr(importlib.import_module(module), cls)
    return factory()


def open_receiver(kind: str, port: str, *, link_mode: str = "T1", source: str = "gw-1",
                  start: bool = True, **options: Any) -> Receiver:
    """Open a receiver of ``kind`` on ``port`` and (by default) start reading.

    ``options`` go to :class:`Receiver`: ``silence_reset_s``, ``backoff_max_s``, ``baudrate``, ``on_frame``.
    """
    receiver = Receiver(get_driver(kind), port, link_mode=link_mode, source=source, **options)
    return receiver.start() if start else receiver


__all__ = ["DRIVERS", "HardwareError", "InitError", "Receiver", "ReceiverStats", "UnknownReceiverError",
           "get_driver", "open_receiver"]
