"""Synthetic hourly series for rule tests: exact per-interval consumption in, a readings frame out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import polars as pl

from core.schemas import READINGS_SCHEMA

T0 = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)


def series(
    meter: int,
    use_m3: Sequence[float],
    *,
    start: datetime = T0,
    step_min: int = 60,
    total0: float = 100.0,
    alarms: Sequence[int] | None = None,
    flow_m3h: Sequence[float] | None = None,
    backward_m3: Sequence[float] | None = None,
    source: int = 0,
) -> pl.DataFrame:
    """Readings at ``start + i*step`` whose register grows by ``use_m3[i-1]`` between reading i-1 and i."""
    n = len(use_m3) + 1
    totals = [total0]
    for u in use_m3:
        totals.append(totals[-1] + u)
    data = {
        "meter_key": [meter] * n,
        "measured_at": [start + timedelta(minutes=step_min * i) for i in range(n)],
        "total_m3": totals,
        "backward_m3": list(backward_m3) if backward_m3 is not None else [0.0] * n,
        "flow_m3h": list(flow_m3h) if flow_m3h is not None else [None] * n,
        "alarms": list(alarms) if alarms is not None else [0] * n,
        "source": [source] * n,
    }
    return pl.DataFrame(data, schema=READINGS_SCHEMA)


def household(
    days: int, *, night_use: dict[int, float] | None = None, day_use: float = 0.02, tz_offset_h: int = 1
) -> list[float]:
    """Hourly use: zero at night (local 00–06) except ``night_use`` {local hour: m³}, ``day_use`` otherwise,
    with some zero hours in the day too. Index i is the interval ending at hour i+1 UTC from T0."""
    out = []
    for i in range(days * 24):
        local_h = (i + tz_offset_h) % 24
        if local_h < 6:
            out.append((night_use or {}).get(local_h, 0.0))
        else:
            out.append(0.0 if local_h in (10, 14, 15) else day_use)
    return out


def frame(*parts: pl.DataFrame) -> pl.DataFrame:
    """Concatenate series into one readings frame."""
    return pl.concat(parts)
