"""Rules about a meter's service life: which meters are out of service, and which were never heard.

A meter whose installations were all removed (and that was not installed again) raises nothing: its open
alerts resolve with ``meter removed`` (see :func:`alerts.lifecycle.plan`). A meter installed longer than
``never_heard_days_fixed`` (fixed network) or ``never_heard_days_driveby`` (drive-by route) with no radio
reading at all raises ``never_heard`` — a wrong key, a wrong id in the registry, or a meter out of range.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from alerts.config import RuleConfig
from alerts.frames import DETECTION_SCHEMA, detections

_RADIO_SOURCES = (0, 1)  # fixed network and drive-by; manual or estimated readings are not hearing a meter


def active_installations(points: pl.DataFrame | None, now: datetime) -> pl.DataFrame:
    """The installation serving each meter at ``now`` (newest first when several)."""
    if points is None or points.height == 0:
        return pl.DataFrame(schema={"meter_key": pl.Int64, "service_point_id": pl.String})
    live = (pl.col("installed_at") <= pl.lit(now)) & (pl.col("removed_at").is_null() | (pl.col("removed_at") > now))
    return points.filter(live).sort("installed_at").unique("meter_key", keep="last", maintain_order=True)


def removed_meters(points: pl.DataFrame | None, now: datetime) -> frozenset[int]:
    """Meters that were installed somewhere and are installed nowhere at ``now`` (taken out of service)."""
    if points is None or points.height == 0:
        return frozenset()
    installed = set(points.get_column("meter_key").to_list())
    return frozenset(installed - set(active_installations(points, now).get_column("meter_key").to_list()))


def never_heard(
    points: pl.DataFrame | None,
    meters: pl.DataFrame | None,
    last_heard: pl.DataFrame,
    cfg: RuleConfig,
    now: datetime,
) -> pl.DataFrame:
    """Installed meters with no radio reading since installation, older than the read mode's limit."""
    live = active_installations(points, now)
    if live.height == 0:
        return pl.DataFrame(schema=DETECTION_SCHEMA)
    heard = last_heard.filter(pl.col("source").is_in(_RADIO_SOURCES))
    heard_keys = heard.group_by("meter_key").agg(pl.col("last_at").max())
    if meters is not None and "read_mode" in meters.columns:
        live = live.join(meters.select("meter_key", "read_mode"), on="meter_key", how="left")
    else:
        live = live.with_columns(pl.lit(None, dtype=pl.String).alias("read_mode"))
    live = live.join(heard_keys, on="meter_key", how="left")
    # heard before this installation (a meter moved to a new service point) does not count either
    silent = live.filter(pl.col("last_at").is_null() | (pl.col("last_at") < pl.col("installed_at")))
    driveby = pl.col("read_mode").fill_null("fixed") == "driveby"
    limit = pl.when(driveby).then(cfg.never_heard_days_driveby).otherwise(cfg.never_heard_days_fixed)
    age = (pl.lit(now) - pl.col("installed_at")).dt.total_seconds() / 86400
    out = silent.with_columns(age.alias("age"), limit.alias("limit")).filter(pl.col("age") > pl.col("limit"))
    return detections(
        out, kind="never_heard", severity="warning", started=pl.col("installed_at"), ended=pl.col("installed_at"),
        active=True, dedupe_key=pl.col("installed_at").dt.strftime("%Y-%m-%dT%H:%M"),
        evidence={
            "installed_at": pl.col("installed_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_since_installation": pl.col("age").round(1),
            "limit_days": pl.col("limit"),
            "read_mode": pl.col("read_mode").fill_null("fixed"),
        },
    )
