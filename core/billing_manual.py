"""Judging a manual reading (customer e-odczyt, crew, staff) at once: accepted, needs_verification or refused.

Pure: the caller gives the previous *valid* register of the meter (core.billing_rules.validate) and the limits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.billing_rules import Sample, Thresholds


def judge(value_m3: float, taken_at: datetime, *, source: str, previous: Sample | None, now: datetime,
          q3_m3h: float | None, th: Thresholds) -> tuple[str, list[str]]:
    """(status, reasons): refused when lower than the previous valid reading (no explanation a person can give)
    or in the future; needs_verification for an implausible jump or a customer's first reading; else accepted."""
    if taken_at > now + timedelta(seconds=th.future_tolerance_s):
        return "refused", ["taken_at is in the future"]
    if previous is None:
        if source == "customer":
            return "needs_verification", ["no previous valid reading to compare with"]
        return "accepted", []
    if value_m3 < previous.value_m3 - th.falling_tolerance_m3:
        return "refused", [f"lower than the previous valid reading ({previous.value_m3:g} m³ at "
                           f"{previous.at.isoformat()}, {previous.basis})"]
    hours = max((taken_at - previous.at).total_seconds() / 3600, 1.0)
    q_max = (q3_m3h or th.default_q3_m3h) * th.q4_over_q3
    if value_m3 - previous.value_m3 > q_max * hours:
        return "needs_verification", [f"implausible jump: {value_m3 - previous.value_m3:g} m³ in {hours:.0f} h "
                                      f"exceeds {q_max:g} m³/h"]
    if taken_at < previous.at and source == "customer":
        return "needs_verification", ["taken before the last valid reading"]
    return "accepted", []
