"""storage.copybin: the hand-written binary COPY of raw frames and readings stores exactly what psycopg's dumpers
store."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.copybin import frame_copy_data, reading_copy_data
from storage.writer import FRAME_COLUMNS, FRAME_TYPES, READING_COLUMNS, READING_TYPES, copy_rows

_TIMES = st.datetimes(datetime(1990, 1, 1), datetime(2080, 1, 1), timezones=st.just(UTC)) | \
    st.datetimes(datetime(1990, 1, 1), datetime(2080, 1, 1), timezones=st.just(timezone(timedelta(hours=2))))
_INT8 = st.none() | st.integers(-(2**63), 2**63 - 1)
_FLOAT = st.none() | st.floats(allow_nan=False)
_RSSI = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
_COLUMNS = ", ".join(f"{c} {t}" for c, t in zip(FRAME_COLUMNS, FRAME_TYPES, strict=True))
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@st.composite
def _rows(draw: st.DrawFn) -> tuple[object, ...]:
    n = draw(st.integers(1, 4))
    return (draw(_TIMES), draw(st.binary(min_size=8, max_size=8)), draw(_INT8), draw(_INT8),
            draw(st.binary(min_size=1, max_size=300)), draw(st.integers(0, 4)), draw(st.none() | _TEXT),
            draw(st.none() | st.sampled_from(["T1", "C1", "unknown"])), draw(st.lists(_TEXT, min_size=n, max_size=n)),
            draw(st.lists(_RSSI, min_size=n, max_size=n)), draw(st.lists(_TIMES, min_size=n, max_size=n)),
            draw(_FLOAT), draw(_FLOAT), draw(st.none() | _TIMES))


@st.composite
def _usual_rows(draw: st.DrawFn) -> tuple[object, ...]:
    """The shape most ingest rows have (one reception at the first reception time, both keys, no position):
    the encoder's packed path, which relies on ``heard_at[0]`` and ``decoded_at`` being ``received_at``."""
    t = draw(_TIMES)
    return (t, draw(st.binary(min_size=8, max_size=8)), draw(st.integers(-(2**63), 2**63 - 1)),
            draw(st.integers(-(2**63), 2**63 - 1)), draw(st.binary(min_size=1, max_size=300)), draw(st.integers(0, 4)),
            None, draw(st.sampled_from(["T1", "C1", "unknown"])), [draw(_TEXT)],
            [draw(st.floats(-200, 50, width=32))], [t], None, None, draw(st.sampled_from([None, t])))


def _stored_both_ways(url: str, columns: Sequence[str], types: Sequence[str], rows: list[tuple[object, ...]],
                      by_hand: Callable[[list[tuple[object, ...]]], bytes]) -> tuple[list[object], list[object]]:
    """``rows`` COPYed into two fresh tables, through psycopg's dumpers and as ``by_hand`` encodes them; what
    each table then holds, in row order."""
    ddl = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    stored = []
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("by_psycopg", "by_hand"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (n serial, {ddl})")
        with conn.cursor() as cur:
            copy_rows(cur, "by_psycopg", columns, types, rows)
            with cur.copy(f"COPY by_hand ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(by_hand(rows))
        for table in ("by_psycopg", "by_hand"):
            stored.append(conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY n").fetchall())
    return stored[0], stored[1]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_rows() | _usual_rows(), min_size=0, max_size=6))
def test_hand_encoded_copy_stores_what_psycopg_stores(fresh_db_url: str, rows: list[tuple[object, ...]]) -> None:
    by_psycopg, by_hand = _stored_both_ways(fresh_db_url, FRAME_COLUMNS, FRAME_TYPES, rows, frame_copy_data)
    assert by_hand == by_psycopg
    assert len(by_hand) == len(rows)


def test_an_rssi_beyond_float4_is_stored_as_infinity(fresh_db_url: str) -> None:
    row = (datetime(2026, 11, 22, tzinfo=UTC), bytes(8), None, None, b"\x01", 0, None, None, ["gw"], [-1e300],
           [datetime(2026, 11, 22, tzinfo=UTC)], None, None, None)
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE f (n serial, {_COLUMNS})")
        with conn.cursor().copy(f"COPY f ({', '.join(FRAME_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(frame_copy_data([row]))
        value = conn.execute("SELECT rssi_dbm[1] FROM f").fetchone()[0]  # type: ignore[index]
        assert math.isinf(value) and value < 0


_OPT_FLOAT = st.none() | st.floats(allow_nan=False)


@st.composite
def _reading_rows(draw: st.DrawFn) -> tuple[object, ...]:
    measured = draw(_TIMES)
    received = draw(st.sampled_from([measured, draw(_TIMES)]))  # usually the same object, as the worker builds
    return (draw(st.integers(-(2**63), 2**63 - 1)), measured, received, draw(_OPT_FLOAT), draw(_OPT_FLOAT),
            draw(st.none() | st.dates()), draw(_OPT_FLOAT), draw(_OPT_FLOAT), draw(st.integers(-(2**31), 2**31 - 1)),
            draw(st.integers(-(2**15), 2**15 - 1)), draw(st.integers(-(2**15), 2**15 - 1)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_reading_rows(), min_size=0, max_size=8))
def test_hand_encoded_readings_copy_stores_what_psycopg_stores(fresh_db_url: str,
                                                               rows: list[tuple[object, ...]]) -> None:
    by_psycopg, by_hand = _stored_both_ways(fresh_db_url, READING_COLUMNS, READING_TYPES, rows, reading_copy_data)
    assert by_hand == by_psycopg
    assert len(by_hand) == len(rows)
