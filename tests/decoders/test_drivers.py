"""Every driver carries its own cases; run them all and require at least one per driver."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from decoders import CompactFormatCache, decode, static_keys
from decoders.drivers import ALL_DRIVERS, select
from decoders.drivers.base import Case, Driver

CASES = [pytest.param(d, c, id=f"{d.name}-{i}") for d in ALL_DRIVERS for i, c in enumerate(d.cases())]


def _norm(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(a.value for a in value)
    return value


@pytest.mark.parametrize(("driver", "case"), CASES)
def test_driver_case_decodes_to_expected_fields(driver: Driver, case: Case) -> None:
    cache = CompactFormatCache()
    keys = (lambda m, i: [bytes.fromhex(case.key)]) if case.key else None
    for earlier in case.preceding:
        decode(bytes.fromhex(earlier), keys, compact_formats=cache)
    tg = decode(bytes.fromhex(case.hex), keys, compact_formats=cache)
    assert tg.driver == driver.name
    for name, want in case.expect.items():
        got = _norm(getattr(tg, name))
        if isinstance(want, float):
            assert got == pytest.approx(want), name
        else:
            assert got == want, name


@pytest.mark.parametrize("driver", ALL_DRIVERS, ids=[d.name for d in ALL_DRIVERS])
def test_every_driver_has_a_case(driver: Driver) -> None:
    assert driver.cases(), f"driver {driver.name} has no test case"


def test_unknown_manufacturer_falls_back_to_generic_driver() -> None:
    assert select("XYZ", 1, 7).name == "oms"


def test_proprietary_ci_without_driver_selects_nothing() -> None:
    assert select("XYZ", 1, 7, 0xA0) is None


def test_static_keys_accepts_manufacturer_prefix_and_hex() -> None:
    lookup = static_keys({"APA:12345678": "00" * 16, "87654321": [bytes(16), "11" * 16]})
    assert lookup("APA", "12345678") == (bytes(16),)
    assert len(lookup("KAM", "87654321")) == 2
    assert lookup("KAM", "12345678") == ()
