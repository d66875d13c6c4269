"""Rule thresholds: ``RuleConfig`` extends ``core.settings.AnalyticsSettings`` with the fields the rules need.

Defaults follow docs/domain.md §3 and §6. Build one with :func:`RuleConfig.from_settings` at the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Every threshold of every rule, with defaults that are used in practice."""

    timezone: str = "Europe/Warsaw"
    # readings farther apart than this are a gap, not an interval (hourly data with some jitter)
    max_interval_min: int = 70
    zero_m3: float = 0.0005  # a delta below half a litre counts as "no consumption"
    # continuous-flow leak
    leak_window_h: int = 24
    leak_clear_zero_intervals: int = 1  # Kamstrup clears after 1 h with zero flow; Zenner: 8 quarter-hours
    leak_critical_m3h: float = 0.1  # Kaden/Ecomess split at 100 l/h
    leak_info_below_m3h: float = 0.0125  # 12.5 l/h, the Danish example
    # night flow
    night_start_h: int = 2
    night_end_h: int = 4
    night_clean_nights: int = 2
    night_raise_nights: int = 3  # restless nights are not a leak (2 gave 9 % false alarms in the benchmark)
    night_baseline_nights: int = 56
    night_min_m3h: float = 0.004  # ~1 gal/h (EyeOnWater household)
    night_margin_m3h: float = 0.004
    night_baseline_min_nights: int = 7
    # burst
    burst_share_of_q3: float = 0.3
    burst_minutes: int = 30
    default_q3_m3h: float = 2.5
    # reverse flow
    reverse_min_m3: float = 0.01
    reverse_active_h: int = 24
    reset_floor_m3: float = 1.0  # a register that drops below this from far above restarted (replacement)
    # stuck / silent
    stuck_days: int = 28
    stuck_min_readings: int = 2
    seasonal_lookback_days: int = 365
    silent_days_fixed: int = 2
    silent_days_driveby: int = 75
    never_heard_days_fixed: int = 3  # installed, no reading at all since: never_heard
    never_heard_days_driveby: int = 90
    # meter-reported flags
    flag_kinds: tuple[str, ...] = (
        "leak",
        "burst",
        "dry",
        "tamper",
        "magnetic",
        "removed",
        "battery_low",
        "blocked",
    )
    # legalization
    legalization_warn_days: tuple[int, ...] = (180, 90, 30)
    legalization_shift_days: int = 0  # the ±1-day reading of art. 112 vs "from 1 Dec"
    # consumption anomaly
    anomaly_ratio: float = 2.5
    anomaly_period_days: int = 30
    anomaly_recent_periods: int = 3
    anomaly_min_excess_m3: float = 2.0

    @classmethod
    def from_settings(cls, settings: Any | None = None, **overrides: Any) -> RuleConfig:
        """Take every field ``AnalyticsSettings`` shares with this class, then apply ``overrides``."""
        base = cls()
        if settings is not None:
            names = {f.name for f in fields(cls)}
            shared = {k: v for k, v in dict(settings).items() if k in names}
            base = replace(base, **shared)
        return replace(base, **overrides) if overrides else base
