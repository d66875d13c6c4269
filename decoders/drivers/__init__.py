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
    aptmbusna,
    aquastream,
    engelmannfaw,
    evo868,
    generic,
    gwf,
    hydrodigit,
    hydrus,
    iperl,
    ista,
    itron,
    iwmtx5,
    izar,
    kaden,
    kamstrup,
    maddalena,
    qundis,
    rfmtx1,
    supercom587,
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
    aptmbusna,
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
    evo868,
    maddalena,
    engelmannfaw,
    waterstarm,
    gwf,
    aquastream,
    ista,
    supercom587,
)

DRIVERS: tuple[Driver, ...] = tuple(m.DRIVER for m in _MODULES)
GENERIC: Driver = generic.DRIVER
ALL_DRIVERS: tuple[Driver, ...] = (*DRIVERS, GENERIC)
# Manufacturer → drivers in priority order (built once; detection then only checks version/type).
_BY_MANUFACTURER: dict[str, tuple[Driver, ...]] = {
    m: tuple(d for d in DRIVERS if any(k.manufacturer == m for k in d.matches))
    for m in {k.manufacturer for d in DRIVERS for k in d.matches}
}


_STANDARD_CIS = frozenset(
    {0x72, 0x78, 0x79, 0x7A, 0x73, 0x7B, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6E, 0x6F, 0x70, 0x74, 0x75, 0x8A, 0x8B}
)


def _scan(manufacturer: str, version: int, device_type: int, ci: int | None) -> Driver | None:
    proprietary = ci is not None and ci not in _STANDARD_CIS
    for d in _BY_MANUFACTURER.get(manufacturer, ()):
        if not d.detects(manufacturer, version, device_type):
            continue
        if (ci in d.cis) if proprietary else not d.cis:
            return d
    return None if proprietary else GENERIC


def _scan_mfct_security(manufacturer: str, version: int, device_type: int) -> Driver | None:
    for d in _BY_MANUFACTURER.get(manufacturer, ()):
        if d.mfct_security and d.detects(manufacturer, version, device_type):
            return d
    return None


Axes = tuple[frozenset[int], frozenset[int]]


def _selection_table() -> tuple[dict[str, Axes], dict[tuple[str, int, int], tuple[Driver | None, Driver | None]]]:
    """Standard-CI and manufacturer-security selections precomputed for every manufacturer with drivers.

    Only the versions and device types some detection key names can change the result; every other value
    behaves like -1 (named by no key). So the table holds (named values + "other")² rows per manufacturer.
    """
    axes: dict[str, Axes] = {}
    table: dict[tuple[str, int, int], tuple[Driver | None, Driver | None]] = {}
    for m, candidates in _BY_MANUFACTURER.items():
        keys = [k for d in candidates for k in d.matches if k.manufacturer == m]
        versions = frozenset(v for k in keys for v in k.versions or ())
        types = frozenset(t for k in keys for t in k.device_types or ())
        axes[m] = versions, types
        for v in (*versions, -1):
            for t in (*types, -1):
                table[m, v, t] = _scan(m, v, t, None), _scan_mfct_security(m, v, t)
    return axes, table


_AXES, _SELECTED = _selection_table()


def _selected(manufacturer: str, version: int, device_type: int) -> tuple[Driver | None, Driver | None]:
    axes = _AXES.get(manufacturer)
    if axes is None:
        return GENERIC, None
    versions, types = axes
    return _SELECTED[manufacturer, version if version in versions else -1, device_type if device_type in types else -1]


def select(manufacturer: str, version: int, device_type: int, ci: int | None = None) -> Driver | None:
    """The driver for a meter; for a manufacturer-specific CI only a driver declaring that CI qualifies.

    Returns None when no driver can decode a proprietary CI; standard frames fall back to the generic
    OMS driver.
    """
    if ci is not None and ci not in _STANDARD_CIS:
        return _scan(manufacturer, version, device_type, ci)
    return _selected(manufacturer, version, device_type)[0]


def select_standard(manufacturer: str, version: int, device_type: int) -> Driver:
    """:func:`select` for a standard CI (never None: the generic OMS driver is the fallback)."""
    axes = _AXES.get(manufacturer)
    if axes is None:
        return GENERIC
    versions, types = axes
    version = version if version in versions else -1
    driver = _SELECTED[manufacturer, version, device_type if device_type in types else -1][0]
    return GENERIC if driver is None else driver


def select_mfct_security(manufacturer: str, version: int, device_type: int) -> Driver | None:
    """The driver that handles a manufacturer-specific TPL security mode for this meter, if any."""
    return _selected(manufacturer, version, device_type)[1]
