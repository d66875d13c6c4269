"""Meter drivers, one module each, and driver selection by manufacturer / version / device type.

To add a driver: write ``decoders/drivers/<name>.py`` exposing ``DRIVER = Driver(...)`` with its cases,
and add the module to ``_MODULES`` below (order = priority; the generic OMS driver is the fallback).
"""

from __future__ import annotations

from types import ModuleType

from decoders.drivers import (
    apator08,
    apator162,
    apator172,
    apatorna1,
    generic,
    hydrodigit,
    hydrus,
    iperl,
    itron,
    iwmtx5,
    izar,
    kaden,
    kamstrup,
    maddalena,
    qundis,
    rfmtx1,
    techem,
    ultrimis,
    waterstarm,
    zenner,
    zenner0b,
)
from decoders.drivers.base import Driver

_MODULES: tuple[ModuleType, ...] = (
    apator162,
    apator172,
    apator08,
    apatorna1,
    ultrimis,
    izar,
    kamstrup,
    techem,
    zenner,
    zenner0b,
    qundis,
    kaden,
    rfmtx1,
    hydrus,
    iperl,
    itron,
    hydrodigit,
    iwmtx5,
    maddalena,
    waterstarm,
)

DRIVERS: tuple[Driver, ...] = tuple(m.DRIVER for m in _MODULES)
GENERIC: Driver = generic.DRIVER
ALL_DRIVERS: tuple[Driver, ...] = (*DRIVERS, GENERIC)
# Manufacturer → drivers in priority order (built once; detection then only checks version/type).
_BY_MANUFACTURER: dict[str, tuple[Driver, ...]] = {
    m: tuple(d for d in DRIVERS if any(k.manufacturer == m for k in d.matches))
    for m in {k.manufacturer for d in DRIVERS for k in d.matches}
}


def select(manufacturer: str, version: int, device_type: int, ci: int | None = None) -> Driver | None:
    """The driver for a meter; for a manufacturer-specific CI only a driver declaring that CI qualifies.

    Returns None when no driver can decode a proprietary CI; standard frames fall back to the generic
    OMS driver.
    """
    proprietary = ci is not None and ci not in _STANDARD_CIS
    for d in _BY_MANUFACTURER.get(manufacturer, ()):
        if not d.detects(manufacturer, version, device_type):
            continue
        if (ci in d.cis) if proprietary else not d.cis:
            return d
    return None if proprietary else GENERIC


_STANDARD_CIS = frozenset(
    {0x72, 0x78, 0x79, 0x7A, 0x73, 0x7B, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6E, 0x6F, 0x70, 0x74, 0x75, 0x8A, 0x8B}
)


def select_mfct_security(manufacturer: str, version: int, device_type: int) -> Driver | None:
    """The driver that handles a manufacturer-specific TPL security mode for this meter, if any."""
    for d in _BY_MANUFACTURER.get(manufacturer, ()):
        if d.mfct_security and d.detects(manufacturer, version, device_type):
            return d
    return None
