"""core.billing_rules: validation flags, the register at a cut-off with its basis, lines and tariff split."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from core.billing_rules import MeterSpan, Sample, Thresholds, billing_line, day_start, register_at, tariff_split

TH = Thresholds()
NOW = datetime(2026, 12, 10, tzinfo=UTC)
INST = datetime(2025, 1, 1, tzinfo=UTC)


def _daily(first: datetime, days: int, start_m3: float, per_day: float) -> list[Sample]:
    return [Sample(first + timedelta(days=i), start_m3 + i * per_day, received_at=first + timedelta(days=i))
            for i in range(days)]


def _span(samples: list[Sample], **kw: object) -> MeterSpan:
    args: dict = {"meter": "KAM-00000001", "installed_at": INST, "removed_at": None, "initial_m3": 0.0,
                  "final_m3": None, "samples": tuple(samples), "legal_valid_until": date(2030, 1, 1)}
    args.update(kw)
    return MeterSpan(**args)


def test_actual_line_uses_last_reading_before_each_local_midnight() -> None:
    # a reading every day at 22:30 UTC = 23:30 in Warsaw (winter): the last value before local midnight
    samples = _daily(datetime(2026, 10, 1, 22, 30, tzinfo=UTC), 70, 100.0, 0.5)
    line = billing_line("SP", [_span(samples)], date(2026, 11, 1), date(2026, 11, 30), now=NOW, th=TH)
    assert line.basis == "actual" and line.opening.basis == "actual"
    assert line.opening.value_m3 == 100.0 + 30 * 0.5  # 31 Oct 22:30 UTC
    assert line.consumption_m3 == 15.0 and line.flags == ()


def test_march_reading_is_not_actual_in_november_and_no_data_is_none() -> None:
    samples = _daily(datetime(2025, 12, 1, tzinfo=UTC), 91, 10.0, 0.2)  # to 1 March 2026, then silence
    p = register_at(samples, day_start(date(2026, 12, 1)), TH)
    assert p.basis == "estimated:3m" and p.value_m3 is not None and p.value_m3 > samples[-1].value_m3
    empty = billing_line("SP", [_span([])], date(2026, 11, 1), date(2026, 11, 30), now=NOW, th=TH)
    assert empty.consumption_m3 is None and empty.basis == "none" and empty.opening.value_m3 is None


def test_interpolation_between_two_actual_readings() -> None:
    a = Sample(datetime(2026, 11, 20, tzinfo=UTC), 10.0)
    b = Sample(datetime(2026, 12, 10, tzinfo=UTC), 30.0)
    p = register_at([a, b], datetime(2026, 11, 30, tzinfo=UTC), TH)
    assert p.basis == "interpolated" and p.value_m3 == 20.0


def test_falling_register_is_refused_unless_backflow_explains_it() -> None:
    t = datetime(2026, 11, 10, tzinfo=UTC)
    falling = _span([Sample(t, 100.0), Sample(t + timedelta(hours=1), 95.0), Sample(t + timedelta(hours=2), 100.1)])
    from core.billing_rules import validate
    flags = [s.flags for s in validate(falling, NOW, TH)]
    assert flags == [(), ("falling_register",), ()]
    back = _span([Sample(t, 100.0, backward_m3=1.0), Sample(t + timedelta(hours=1), 95.0, backward_m3=6.0)])
    assert [s.flags for s in validate(back, NOW, TH)] == [(), ("backflow",)]


def test_rollover_jump_future_stale_before_installation() -> None:
    from core.billing_rules import validate
    t = datetime(2026, 11, 10, tzinfo=UTC)
    s = _span([Sample(t - timedelta(days=700), 1.0),
               Sample(t, 99_999.0), Sample(t + timedelta(hours=1), 0.5),
               Sample(t + timedelta(hours=2), 50.0),
               Sample(t + timedelta(hours=3), 0.6, received_at=t + timedelta(days=5)),
               Sample(NOW + timedelta(days=1), 0.7)])
    assert [x.flags for x in validate(s, NOW, TH)] == [
        ("before_installation",), (), ("rollover",), ("jump",), ("stale",), ("future",)]


def test_tariff_split_by_days_adds_up() -> None:
    parts = tariff_split(10.0, date(2026, 11, 1), date(2026, 11, 30),
                         [(date(2026, 1, 1), "T25"), (date(2026, 11, 13), "T26")])
    assert parts == ({"tariff": "T25", "from": "2026-11-01", "to": "2026-11-12", "days": 12, "m3": 4.0},
                     {"tariff": "T26", "from": "2026-11-13", "to": "2026-11-30", "days": 18, "m3": 6.0})


def test_replacement_sums_old_final_and_new_initial() -> None:
    removed = datetime(2026, 11, 15, 10, tzinfo=UTC)
    old = _span(_daily(datetime(2026, 10, 1, 22, tzinfo=UTC), 45, 500.0, 1.0), removed_at=removed, final_m3=545.5)
    new = _span(_daily(datetime(2026, 11, 15, 22, tzinfo=UTC), 20, 0.7, 1.0), meter="APA-00000002",
                installed_at=removed, initial_m3=0.2)
    line = billing_line("SP", [old, new], date(2026, 11, 1), date(2026, 11, 30), now=NOW, th=TH)
    # old: 530 (31 Oct) → 545.5 = 15.5; new: 0.2 → 15.7 (29 Nov 22:00 UTC) = 15.5
    assert line.meters == ("KAM-00000001", "APA-00000002") and line.consumption_m3 == 31.0
    assert "replacement" in line.flags and line.basis == "actual"


def test_estimate_fallbacks_last_year_and_norm() -> None:
    # a year ago: 1 m³/day for 60 days; since then silence until a single reading: same period last year
    old = _daily(datetime(2025, 10, 1, tzinfo=UTC), 60, 0.0, 1.0)
    base = Sample(datetime(2026, 11, 1, tzinfo=UTC), 500.0)
    p = register_at([*old, base], datetime(2026, 11, 11, tzinfo=UTC), TH)
    assert p.basis == "estimated:last_year" and round(p.value_m3 or 0, 6) == 510.0
    norm = Thresholds(norm_l_per_person_day=100.0)
    p = register_at([base], datetime(2026, 11, 11, tzinfo=UTC), norm, persons=3)
    assert p.basis == "estimated:norm" and round(p.value_m3 or 0, 6) == 503.0
    assert register_at([base], datetime(2026, 11, 11, tzinfo=UTC), TH, persons=3).basis == "none"


def test_expired_legalization_is_flagged_not_dropped() -> None:
    samples = _daily(datetime(2026, 10, 1, 22, 30, tzinfo=UTC), 70, 100.0, 0.5)
    line = billing_line("SP", [_span(samples, legal_valid_until=date(2026, 11, 15))], date(2026, 11, 1),
                        date(2026, 11, 30), now=NOW, th=TH)
    assert line.legally_valid is False and "legal_expired" in line.flags and line.consumption_m3 == 15.0


def test_spring_dst_month_has_743_hours() -> None:
    hourly = [Sample(datetime(2026, 2, 20, tzinfo=UTC) + timedelta(hours=h), h * 0.01) for h in range(24 * 50)]
    line = billing_line("SP", [_span(hourly)], date(2026, 3, 1), date(2026, 3, 31), now=NOW, th=TH)
    assert line.basis == "actual" and line.consumption_m3 == 7.43  # 31 × 24 − 1


def test_manual_judgement() -> None:
    from core.billing_manual import judge
    prev = Sample(datetime(2026, 11, 20, tzinfo=UTC), 120.0)
    at = datetime(2026, 11, 21, tzinfo=UTC)
    assert judge(119.0, at, source="customer", previous=prev, now=NOW, q3_m3h=2.5, th=TH)[0] == "refused"
    assert judge(121.0, at, source="customer", previous=prev, now=NOW, q3_m3h=2.5, th=TH) == ("accepted", [])
    assert judge(400.0, at, source="crew", previous=prev, now=NOW, q3_m3h=2.5, th=TH)[0] == "needs_verification"
    assert judge(121.0, NOW + timedelta(days=1), source="staff", previous=prev, now=NOW, q3_m3h=None,
                 th=TH)[0] == "refused"
    assert judge(5.0, at, source="customer", previous=None, now=NOW, q3_m3h=None, th=TH)[0] == "needs_verification"
