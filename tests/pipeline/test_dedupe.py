"""The per-worker dedupe windows: copies meet by their own reception times, whatever order they arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dedupe import WindowSet

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_a_late_gateways_copy_still_meets_the_first_copy() -> None:
    seen = WindowSet(window_s=120)
    seen.add("telegram-A", T0)
    for hour in range(1, 48):  # another gateway already delivered two days of newer frames
        seen.add(f"other-{hour}", T0 + timedelta(hours=hour))
    assert seen.get("telegram-A", T0 + timedelta(seconds=0.8)) is True


def test_copies_further_apart_than_the_window_are_distinct() -> None:
    seen = WindowSet(window_s=120)
    seen.add("telegram-A", T0)
    assert seen.get("telegram-A", T0 + timedelta(seconds=121)) is None
    assert seen.get("telegram-A", T0 - timedelta(seconds=121)) is None


def test_entries_are_forgotten_by_arrival_age_and_size() -> None:
    now = [0.0]
    seen = WindowSet(window_s=120, max_entries=3, retention_s=600, clock=lambda: now[0])
    seen.add("a", T0)
    now[0] = 601.0
    seen.add("b", T0)
    assert seen.get("a", T0) is None and seen.get("b", T0) is True
    for key in ("c", "d", "e"):
        seen.add(key, T0)
    assert len(seen) == 3 and seen.get("b", T0) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-300, 300), st.floats(0, 5)), max_size=40))
def test_add_new_is_get_then_add(steps: list[tuple[str, int, float]]) -> None:
    """The ingest's one-look-up ``add_new`` answers and remembers exactly what ``get`` then ``add`` did."""
    now = [0.0]
    one = WindowSet(window_s=120, max_entries=3, retention_s=10, clock=lambda: now[0])
    two = WindowSet(window_s=120, max_entries=3, retention_s=10, clock=lambda: now[0])
    for key, seconds, wait in steps:
        now[0] += wait
        at = T0 + timedelta(seconds=seconds)
        new = two.get(key, at) is None
        if new:
            two.add(key, at)
        assert one.add_new(key, at) == new
        assert list(one._seen.items()) == list(two._seen.items())
