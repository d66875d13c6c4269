"""Read-to-bill rules, pure (no I/O): validation ("V"), the register at a cut-off with its basis ("E"),
per-service-point billing lines across meter replacements, and the tariff split by average daily consumption.

Polish practice (docs/billing.md, domain notes §2.3): an estimate is the average daily consumption of the
previous 3 months, else the same period last year, else the previous year's average, else a per-person norm,
else nothing (basis ``none``, never a silent 0). Storage loads the samples and stores what these return.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")
# a sample failing one of these is not a valid basis for billing; the others are warnings for the biller
BLOCKING = frozenset({"falling_register", "jump", "future", "before_installation", "stale"})
BASES = ("actual", "meter_stored", "interpolated", "edited", "none")  # plus estimated:<method>, manual:<who>


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Validation and estimation thresholds (``core.settings.BillingSettings`` carries the configured ones)."""

    falling_tolerance_m3: float = 0.005
    q4_over_q3: float = 1.25
    default_q3_m3h: float = 2.5
    future_tolerance_s: float = 300.0
    stale_after_h: float = 48.0
    rollover_m3: float = 100_000.0
    actual_window_h: float = 24.0
    interpolate_max_days: float = 62.0
    estimate_min_span_days: float = 28.0
    norm_l_per_person_day: float | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """One register value of one meter: a radio reading, a meter-stored register, a manual or an edited one."""

    at: datetime
    value_m3: float
    basis: str = "actual"
    received_at: datetime | None = None
    backward_m3: float | None = None
    confirmed: bool = False  # staff confirmed it: valid whatever the rules say
    flags: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the sample may be a billing basis."""
        return self.confirmed or not BLOCKING.intersection(self.flags)


@dataclass(frozen=True, slots=True)
class MeterSpan:
    """One installation of a meter at the service point, with its samples in time order."""

    meter: str
    installed_at: datetime
    removed_at: datetime | None
    initial_m3: float
    final_m3: float | None
    samples: tuple[Sample, ...]
    q3_m3h: float | None = None
    legal_valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """A register at an instant with what it is based on; ``value_m3`` None only with basis ``none``."""

    value_m3: float | None
    basis: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Line:
    """One service point's billing line for a period."""

    service_point_id: str
    meters: tuple[str, ...]
    opening: Point
    closing: Point
    consumption_m3: float | None
    basis: str
    tariffs: tuple[dict[str, object], ...]
    legally_valid: bool | None
    flags: tuple[str, ...] = field(default=())


def day_start(day: date) -> datetime:
    """The instant a local (Europe/Warsaw) calendar day starts."""
    return datetime.combine(day, time(0), WARSAW)


def validate(span: MeterSpan, now: datetime, th: Thresholds) -> tuple[Sample, ...]:
    """The span's samples with their rule flags (a falling one compared with the previous *valid* sample)."""
    out: list[Sample] = []
    prev: Sample | None = None
    q_max = (span.q3_m3h or th.default_q3_m3h) * th.q4_over_q3
    for s in span.samples:
        flags = list(s.flags)
        if s.at > now + timedelta(seconds=th.future_tolerance_s):
            flags.append("future")
        if s.at < span.installed_at or (span.removed_at is not None and s.at > span.removed_at):
            flags.append("before_installation" if s.at < span.installed_at else "after_removal")
        if s.received_at is not None and (s.received_at - s.at).total_seconds() > th.stale_after_h * 3600:
            flags.append("stale")
        if prev is not None:
            flags.extend(_step_flags(prev, s, q_max, th))
        checked = replace(s, flags=tuple(dict.fromkeys(flags)))
        out.append(checked)
        if checked.valid and "after_removal" not in checked.flags:
            prev = checked
    return tuple(out)


def _step_flags(prev: Sample, s: Sample, q_max: float, th: Thresholds) -> list[str]:
    delta = s.value_m3 - prev.value_m3
    hours = max((s.at - prev.at).total_seconds() / 3600, 1 / 60)
    if delta < -th.falling_tolerance_m3:
        back = (s.backward_m3 or 0.0) - (prev.backward_m3 or 0.0)
        if back >= -delta - th.falling_tolerance_m3:
            return ["backflow"]
        if prev.value_m3 > th.rollover_m3 * 0.9 and s.value_m3 < th.rollover_m3 * 0.1:
            delta += th.rollover_m3
            return ["rollover"] + (["jump"] if delta > q_max * hours else [])
        return ["falling_register"]
    return ["jump"] if delta > q_max * hours else []


def _advance(a: float, b: float, th: Thresholds) -> float:
    """Consumption from register a to register b, across a rollover if b wrapped."""
    d = b - a
    if d < 0 and a > th.rollover_m3 * 0.9 and b < th.rollover_m3 * 0.1:
        d += th.rollover_m3
    return d


def _rate(samples: Sequence[Sample], lo: datetime, hi: datetime, th: Thresholds) -> float | None:
    """Average daily consumption between the first sample at or after lo and the last at or before hi."""
    inside = [s for s in samples if lo <= s.at <= hi]
    if len(inside) < 2:
        return None
    days = (inside[-1].at - inside[0].at).total_seconds() / 86400
    if days < th.estimate_min_span_days:
        return None
    total = sum(_advance(a.value_m3, b.value_m3, th) for a, b in itertools.pairwise(inside))
    return max(total, 0.0) / days


def estimate_rate(samples: Sequence[Sample], at: datetime, base: Sample, th: Thresholds,
                  persons: float | None) -> tuple[float, str] | None:
    """Daily consumption for an estimate from ``base`` to ``at``, and its method name."""
    r = _rate(samples, base.at - timedelta(days=92), base.at, th)
    if r is not None:
        return r, "3m"
    hi = at - timedelta(days=365)  # the same period last year, widened to the minimum span if shorter
    r = _rate(samples, min(base.at - timedelta(days=365), hi - timedelta(days=th.estimate_min_span_days)), hi, th)
    if r is not None:
        return r, "last_year"
    year = at.astimezone(WARSAW).year - 1
    r = _rate(samples, day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1)), th)
    if r is not None:
        return r, "prev_year_avg"
    if persons and th.norm_l_per_person_day:
        return persons * th.norm_l_per_person_day / 1000, "norm"
    return None


def register_at(samples: Sequence[Sample], at: datetime, th: Thresholds, persons: float | None = None) -> Point:
    """The meter's register at ``at`` from its valid samples: actual, interpolated, estimated or none."""
    valid = [s for s in samples if s.valid]
    before = [s for s in valid if s.at <= at]
    after = [s for s in valid if s.at > at]
    prev = before[-1] if before else None
    if prev is not None and (at - prev.at).total_seconds() <= th.actual_window_h * 3600:
        return Point(prev.value_m3, prev.basis, prev.at)
    nxt = after[0] if after else None
    if prev is not None and nxt is not None and (nxt.at - prev.at).days <= th.interpolate_max_days:
        share = (at - prev.at) / (nxt.at - prev.at)
        return Point(prev.value_m3 + _advance(prev.value_m3, nxt.value_m3, th) * share, "interpolated", at)
    if prev is None:
        return Point(None, "none", None)
    est = estimate_rate(valid, at, prev, th, persons)
    if est is None:
        return Point(None, "none", None)
    rate, method = est
    return Point(prev.value_m3 + rate * (at - prev.at).total_seconds() / 86400, f"estimated:{method}", at)


def _span_points(span: MeterSpan, start: datetime, end: datetime, th: Thresholds,
                 persons: float | None) -> tuple[Point, Point]:
    if span.installed_at >= start:
        opening = Point(span.initial_m3, "manual:crew", span.installed_at)
    else:
        opening = register_at(span.samples, start, th, persons)
    if span.removed_at is not None and span.removed_at <= end and span.final_m3 is not None:
        closing = Point(span.final_m3, "manual:crew", span.removed_at)
    else:
        closing = register_at(span.samples, min(end, span.removed_at or end), th, persons)
    return opening, closing


def tariff_split(consumption: float | None, first: date, last: date,
                 changes: Iterable[tuple[date, str]]) -> tuple[dict[str, object], ...]:
    """Split a period's consumption at tariff changes by average daily consumption (days, local calendar).

    ``changes``: (first day the tariff applies, tariff name); the one in force on ``first`` is the latest at or
    before it. Portions are rounded to 0.001 m³ with the remainder on the last, so they add up exactly.
    """
    ordered = sorted(changes)
    cuts = [(d, n) for d, n in ordered if first < d <= last]
    current = [n for d, n in ordered if d <= first]
    bounds = [(first, current[-1] if current else None), *cuts]
    total_days = (last - first).days + 1
    parts: list[dict[str, object]] = []
    given = 0.0
    for i, (d, name) in enumerate(bounds):
        to = bounds[i + 1][0] - timedelta(days=1) if i + 1 < len(bounds) else last
        days = (to - d).days + 1
        m3 = None
        if consumption is not None:
            m3 = round(consumption * days / total_days, 3) if i + 1 < len(bounds) else round(consumption - given, 3)
            given += m3
        parts.append({"tariff": name, "from": d.isoformat(), "to": to.isoformat(), "days": days, "m3": m3})
    return tuple(parts)


def billing_line(service_point_id: str, spans: Sequence[MeterSpan], first: date, last: date, *, now: datetime,
                 th: Thresholds, tariffs: Iterable[tuple[date, str]] = (), persons: float | None = None) -> Line:
    """The line of one service point for local days ``first``..``last`` (inclusive), replacements summed."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    live = [s for s in spans if s.installed_at < end and (s.removed_at is None or s.removed_at > start)]
    if not live:
        none = Point(None, "none", None)
        return Line(service_point_id, (), none, none, None, "none", tariff_split(None, first, last, tariffs),
                    None, ("no_meter",))
    flags: list[str] = []
    total: float | None = 0.0
    points: list[tuple[Point, Point]] = []
    for span in sorted(live, key=lambda s: s.installed_at):
        checked = replace(span, samples=validate(span, now, th))
        flags.extend(f for s in checked.samples if start - timedelta(days=1) <= s.at <= end for f in s.flags)
        o, c = _span_points(checked, start, end, th, persons)
        points.append((o, c))
        if o.value_m3 is None or c.value_m3 is None or total is None:
            total = None
            continue
        d = _advance(o.value_m3, c.value_m3, th)
        if d < 0:
            flags.append("negative_consumption")
            total = None
            continue
        total += d
    if len(live) > 1:
        flags.append("replacement")
    legal = _legal(live, last)
    if legal is False:
        flags.append("legal_expired")
    return Line(service_point_id, tuple(s.meter for s in live), points[0][0], points[-1][1],
                None if total is None else round(total, 6), _line_basis(points, total),
                tariff_split(None if total is None else round(total, 6), first, last, tariffs), legal,
                tuple(dict.fromkeys(flags)))


def _legal(spans: Sequence[MeterSpan], last: date) -> bool | None:
    known = [s.legal_valid_until for s in spans]
    if any(v is None for v in known):
        return None
    return all(v is not None and v >= last for v in known)


def _line_basis(points: Sequence[tuple[Point, Point]], total: float | None) -> str:
    """The weakest basis of the registers used: none < estimated < interpolated < the rest (actual-like)."""
    if total is None:
        return "none"
    bases = [p.basis for pair in points for p in pair]
    for weak in ("estimated", "interpolated", "edited", "manual:customer", "manual:staff", "meter_stored"):
        hit = next((b for b in bases if b.startswith(weak)), None)
        if hit:
            return hit
    return "actual" if "actual" in bases else bases[-1]


def thresholds_from(settings: object) -> Thresholds:
    """Thresholds from ``Settings().billing`` (any object with the same attribute names)."""
    names = Thresholds.__dataclass_fields__
    return Thresholds(**{n: getattr(settings, n) for n in names if hasattr(settings, n)})
