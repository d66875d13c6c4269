"""``oms_values`` (one pass, tuple indices) agrees with the straightforward reference it replaced.

The reference below is the earlier implementation: a dict of the first record per quantity, the error-flag
values, and per-storage dicts for the billing-date target.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import Alarm
from decoders import encoder as enc
from decoders.drivers.base import AlarmBits
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, STATUS_BITS, number, oms_finish, oms_values, parse_oms
from decoders.errors import ApplicationError
from decoders.model import HistoryEntry, Record
from decoders.records import parse_records

_STORED = frozenset({"volume", "date", "datetime"})


def _reference(
    records: tuple[Record, ...], status: int | None, error_flags: AlarmBits | None, use_status: bool
) -> tuple[Any, ...]:
    first: dict[str, Record] = {}
    flags: list[int] = []
    stored: dict[int, dict[str, Record]] = {}
    for r in records:
        q = r.quantity
        value = r.value
        if r.storage:
            if q in _STORED and not r.tariff and not r.subunit and value is not None and r.function == "instantaneous":
                per = stored.setdefault(r.storage, {})
                per.setdefault(q, r)
            continue
        if q == "error_flags" and isinstance(value, int):
            flags.append(value)
        if r.tariff or r.subunit or value is None:
            continue
        old = first.get(q)
        if old is None or (old.function != "instantaneous" and r.function == "instantaneous"):
            first[q] = r
    registers = []
    for s in sorted(stored):
        vol = number(stored[s].get("volume"))
        if vol is None:
            continue
        when = stored[s].get("date") or stored[s].get("datetime")
        value = when.value if when else None
        if isinstance(value, datetime):
            value = value.date()
        registers.append(HistoryEntry(s, value if isinstance(value, date) else None, vol))
    target, target_date = (registers[0].value_m3, registers[0].date) if registers else (None, None)
    alarms: set[Alarm] = set()
    history: set[Alarm] = set()
    if use_status and status is not None:
        STATUS_BITS.apply(status, alarms, set())
    if error_flags is not None:
        for value in flags:
            error_flags.apply(value, alarms, history)
    when_rec = first.get("datetime")
    battery = first.get("remaining_battery")
    return (
        number(first.get("volume")),
        target,
        target_date,
        number(first.get("backward_volume")),
        number(first.get("flow")),
        when_rec.value if when_rec and isinstance(when_rec.value, datetime) else None,
        alarms,
        history,
        int(battery.value) if battery and isinstance(battery.value, int) else None,
        number(first.get("voltage")),
        tuple(registers),
    )


_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=3),
    st.text(max_size=3),
)
_RECORDS = st.builds(
    Record,
    st.just("04"),
    st.just(4),
    st.just(0x13),
    st.just(b""),
    st.sampled_from([0, 0, 0, 1, 2, 5]),
    st.sampled_from([0, 0, 1]),
    st.sampled_from([0, 0, 1]),
    st.sampled_from(["instantaneous", "maximum", "minimum", "error"]),
    st.sampled_from(
        [
            "volume",
            "backward_volume",
            "flow",
            "datetime",
            "date",
            "remaining_battery",
            "voltage",
            "error_flags",
            "energy",
        ]
    ),
    st.just("m3"),
    _VALUES,
)
_FLAGS = AlarmBits(current={0x01: Alarm.LEAK, 0x02: Alarm.BURST}, history={0x04: Alarm.LEAK})


@settings(max_examples=400, deadline=None)
@given(
    records=st.lists(_RECORDS, max_size=10),
    status=st.none() | st.integers(0, 0xFF),
    error_flags=st.sampled_from([GENERIC_ERROR_FLAGS, None, _FLAGS, AlarmBits()]),
    use_status=st.booleans(),
)
def test_oms_values_matches_the_reference(
    records: list[Record], status: int | None, error_flags: AlarmBits | None, use_status: bool
) -> None:
    got = oms_values(tuple(records), status, error_flags, use_status)
    want = _reference(tuple(records), status, error_flags, use_status)
    assert repr(got) == repr(want)
    assert [type(v) for v in got] == [type(v) for v in want]


_DIFS = [
    0x01,
    0x02,
    0x03,
    0x04,
    0x06,
    0x07,
    0x0B,
    0x0C,
    0x0D,
    0x05,
    0x41,
    0x42,
    0x44,
    0x4C,
    0x84,
    0xC4,
    0x12,
    0x22,
    0x32,
]
_VIFS = [0x13, 0x14, 0x16, 0x3B, 0x3E, 0x6C, 0x6D, 0x74, 0xFD, 0x93, 0x7F, 0x7C, 0x7B, 0x10]
_PIECE = st.one_of(
    st.builds(enc.total_volume, st.floats(0, 1e6).map(lambda v: round(v, 3))),
    st.builds(enc.billing_volume, st.floats(0, 1e6).map(lambda v: round(v, 3)), storage=st.integers(1, 15)),
    st.builds(enc.billing_date, st.dates(date(2000, 1, 1), date(2099, 12, 31)), storage=st.integers(1, 3)),
    st.builds(enc.date_time, st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1)), storage=st.integers(0, 2)),
    st.builds(enc.error_flags, st.integers(0, 0xFFFF)),
    st.builds(enc.backward_volume, st.floats(0, 1e4).map(lambda v: round(v, 3))),
    st.builds(enc.flow, st.floats(0, 30).map(lambda v: round(v, 3))),
    st.builds(enc.battery_days, st.integers(0, 9999)),
    st.builds(
        lambda d, v, data: bytes((d, v)) + data, st.sampled_from(_DIFS), st.sampled_from(_VIFS), st.binary(max_size=9)
    ),
    st.builds(
        lambda d, c, data: bytes((d, 0xFD, c)) + data,
        st.sampled_from(_DIFS),
        st.integers(0, 0xFF),
        st.binary(max_size=6),
    ),
    st.sampled_from([b"\x2f", b"\x2f\x2f\x2f", b"\x7f", b"\x0f\x01\x02", b"\x1f"]),
    st.binary(min_size=1, max_size=4),
)


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_PIECE, max_size=8), status=st.integers(0, 0xFF), use_status=st.booleans())
def test_fused_parse_oms_matches_parse_records_then_oms_values(
    pieces: list[bytes], status: int, use_status: bool
) -> None:
    payload = b"".join(pieces)
    try:
        want_records = parse_records(payload).records
    except ApplicationError as exc:
        with pytest.raises(ApplicationError) as info:
            parse_oms(payload)
        assert str(info.value) == str(exc)
        return
    records, state = parse_oms(payload)
    assert repr(records) == repr(want_records)
    for flags in (GENERIC_ERROR_FLAGS, _FLAGS, None):
        got = oms_finish(state, status, flags, use_status)
        assert repr(got) == repr(oms_values(records, status, flags, use_status))


def test_roles_from_the_vif_tables_equal_the_roles_of_the_complete_common_tables() -> None:
    from decoders import records
    from decoders.drivers import oms

    two, fd = records.common_headers()
    assert oms.roles_of(two) == oms._ROLES
    assert oms.roles_of(fd) == oms._FD_ROLES
