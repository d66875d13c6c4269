"""Explicit polars schemas of the frames that pass from ``storage`` (which loads them) to ``alerts`` (which
reads them). Neither package may import the other, so the contract lives here; frames are cast to these
schemas, never inferred."""

from __future__ import annotations

import polars as pl

UTC_US = pl.Datetime("us", "UTC")

# readings (storage.analytics.load_readings) — the columns the rules read
READINGS_SCHEMA: dict[str, pl.DataType] = {
    "meter_key": pl.Int64(),
    "measured_at": UTC_US,
    "total_m3": pl.Float64(),
    "backward_m3": pl.Float64(),
    "flow_m3h": pl.Float64(),
    "alarms": pl.Int32(),
    "source": pl.Int16(),
}
# meters with their Q3 and legalization mark
METERS_SCHEMA: dict[str, pl.DataType] = {
    "meter_key": pl.Int64(),
    "q3_m3h": pl.Float64(),
    "legalization_mark_type": pl.String(),
    "legalization_mark_value": pl.String(),
    "legalized_on": pl.Date(),
    "read_mode": pl.String(),  # 'fixed' or 'driveby': how long a never-heard meter may stay silent
}
# one row per installation: which meter served which service point, and whether anybody lives there
POINTS_SCHEMA: dict[str, pl.DataType] = {
    "meter_key": pl.Int64(),
    "service_point_id": pl.String(),
    "area": pl.String(),
    "occupied": pl.Boolean(),
    "installed_at": UTC_US,
    "removed_at": UTC_US,
}
# when each meter was last heard, per reading source
LAST_HEARD_SCHEMA: dict[str, pl.DataType] = {"meter_key": pl.Int64(), "source": pl.Int16(), "last_at": UTC_US}
