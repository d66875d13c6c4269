"""Request parameter types shared by the routers: bounded times and dates, short NUL-free strings, ids.

Every value a client sends is bounded before it reaches storage, so a year 9999, an id past 2⁶³ or a NUL
byte is a 422 problem naming the parameter, never a 500 from Python's date arithmetic or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Path
from pydantic import AfterValidator, Field, StringConstraints

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
INT64_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"


def _instant(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone (e.g. 2026-11-30T23:59:59Z)")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return value


def _day(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Instant = Annotated[datetime, AfterValidator(_instant)]
"""A timezone-aware time in [1970, 2100)."""
Day = Annotated[date, AfterValidator(_day)]
"""A calendar date in [1970, 2100)."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
"""A short identifier-like string (kind, area, service point id …): 1–64 characters, no NUL."""
Note = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
"""Free text a person writes (an acknowledgement note …): at most 2,000 characters, no NUL."""
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A positive database id (bigint)."""
Key = Annotated[int, Field(ge=0, le=INT64_MAX)]
PathId = Annotated[int, Path(ge=1, le=INT64_MAX)]
"""A row id in a URL path (alerts, incidents, runs, readings, subscriptions, pages)."""
"""A non-negative bigint key (meter keys)."""


def check_range(start: datetime, end: datetime, *, max_days: int, what: str = "from/to") -> None:
    """422 unless ``start < end`` and the range spans at most ``max_days`` days."""
    if end <= start:
        raise HTTPException(422, f"{what}: `to` must be after `from`")
    if end - start > timedelta(days=max_days):
        raise HTTPException(422, f"{what}: at most {max_days} days per request here "
                                 "(ask for several ranges, or a coarser interval)")
