"""The analysis in shards: bounded memory, optional worker processes, and an incremental mode.

A shard is a range of meter keys, adjusted so that all meters that ever served one service point fall in
the same shard (the consumption rules add up a service point's meters across a replacement): meters are
grouped by shared service points (union-find), each group belongs to the shard holding its smallest key, and a
shard reads its key range minus members of groups owned elsewhere plus the members of its own groups that lie
outside the range. Every rule works per meter or per service point, so running the rules shard by shard and
concatenating the detections gives the whole-fleet result (tested) while only one shard's readings are in
memory per process.

Incremental (:func:`evaluate_fleet` with ``only``): the reading-based rules run over the meters with new
readings since the previous run (their full lookback window, which the rules need for episodes, seasons and
year-ago baselines); the registry rules (silent, never heard, legalization) run over the whole fleet from the
last-heard times stored by the previous run and merged with the new readings.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from alerts.config import RuleConfig
from alerts.engine import evaluate
from alerts.frames import DETECTION_SCHEMA
from core.schemas import LAST_HEARD_SCHEMA, READINGS_SCHEMA
from storage import analysis_state
from storage.analytics import key_predicate, load_last_heard, load_meters, load_points, load_readings

FLEET_RULES = frozenset({"silent", "never_heard", "legalization"})  # need no readings, only the registry


@dataclass(frozen=True, slots=True)
class Shard:
    """Meter keys ``[lo, hi)`` (None: open end), minus ``excluded``, plus ``extra``."""

    lo: int | None
    hi: int | None
    extra: tuple[int, ...] = ()
    excluded: tuple[int, ...] = ()

    def predicate(self, column: str = "meter_key", only: Sequence[int] | None = None) -> str:
        """The SQL condition on ``column`` selecting this shard's meters (among ``only`` when given)."""
        return key_predicate(self.lo, self.hi, extra=self.extra, excluded=self.excluded, only=only, column=column)


@dataclass
class FleetEvaluation:
    """Merged result of every shard."""

    detections: pl.DataFrame
    evaluated_meters: dict[str, set[int]]
    seconds: dict[str, float] = field(default_factory=dict)
    readings: int = 0
    last_heard: pl.DataFrame | None = None


def _homes(keys: Sequence[int], pairs: Sequence[tuple[str, int]]) -> dict[int, int]:
    """Each meter's group representative: the smallest key of the meters sharing service points with it."""
    parent = {k: k for k in keys}
    for _, k in pairs:
        parent.setdefault(k, k)

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    by_point: dict[str, int] = {}
    for sp, k in pairs:
        other = by_point.setdefault(sp, k)
        a, b = find(other), find(k)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {k: find(k) for k in parent}


def plan_shards(conn: psycopg.Connection, n: int) -> list[Shard]:
    """``n`` shards of about equal meter counts that keep each service point's meters together."""
    keys, pairs = analysis_state.meter_links(conn)
    homes = _homes(keys, pairs)
    ordered = sorted(set(homes.values()))
    if n <= 1 or len(ordered) < 2:
        return [Shard(None, None)]
    cuts = sorted({ordered[len(ordered) * i // n] for i in range(1, n)})
    bounds: list[int | None] = [None, *cuts, None]
    extra: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    excluded: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for k, h in sorted(homes.items()):
        own, home = bisect.bisect_right(cuts, k), bisect.bisect_right(cuts, h)
        if own != home:  # k lies in another shard's key range than its group: moved to the group's shard
            extra[home].append(k)
            excluded[own].append(k)
    return [Shard(lo, hi, tuple(extra[i]), tuple(excluded[i]))
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))]


def evaluate_shard(db_url: str, shard: Shard, *, now: datetime, lookback_days: int, cfg: RuleConfig,
                   rules: tuple[str, ...], only: Sequence[int] | None = None,
                   last_heard: pl.DataFrame | None = None) -> FleetEvaluation:
    """Load one shard's frames and run ``rules`` over them (a worker process calls this too)."""
    t0 = time.perf_counter()
    keys = shard.predicate(only=only)
    readings = load_readings(db_url, since=now - timedelta(days=lookback_days), until=now, keys=keys)
    meters = load_meters(db_url, keys)
    points = load_points(db_url, shard.predicate("i.meter_key", only=only))
    if last_heard is None:
        last_heard = load_last_heard(db_url, keys)
    heard = last_heard.filter(pl.col("last_at") <= now)
    load_s = time.perf_counter() - t0
    ev = evaluate(readings, meters=meters, points=points, last_heard=heard, cfg=cfg, now=now, rules=rules,
                  assume_sorted=True)
    return FleetEvaluation(ev.detections, ev.evaluated_meters, {"load": load_s, **ev.seconds}, readings.height,
                           last_heard)


def _merge(parts: Sequence[FleetEvaluation], rules: tuple[str, ...]) -> FleetEvaluation:
    detections = pl.concat([p.detections for p in parts]) if parts else pl.DataFrame(schema=DETECTION_SCHEMA)
    # a rule may emit one all-null row for an input without candidates: one per shard would differ from the
    # whole run, and such a row is no detection at all
    out = FleetEvaluation(detections.filter(pl.col("kind").is_not_null()), {r: set() for r in rules})
    for p in parts:
        for rule, metered in p.evaluated_meters.items():
            out.evaluated_meters.setdefault(rule, set()).update(metered)
        for name, s in p.seconds.items():
            out.seconds[name] = out.seconds.get(name, 0.0) + s
        out.readings += p.readings
    heard = [p.last_heard for p in parts if p.last_heard is not None]
    out.last_heard = pl.concat(heard) if heard else pl.DataFrame(schema=LAST_HEARD_SCHEMA)
    return out


def evaluate_fleet(db_url: str, *, now: datetime, lookback_days: int, cfg: RuleConfig, rules: tuple[str, ...],
                   shards: int = 1, processes: int = 1, only: Sequence[int] | None = None,
                   last_heard: pl.DataFrame | None = None) -> FleetEvaluation:
    """Run ``rules`` shard by shard (in ``processes`` worker processes when > 1) and merge the results.

    ``only`` restricts every shard to those meters (incremental runs); ``last_heard`` replaces the per-shard
    aggregate of all history (then filtered per shard in memory).
    """
    with psycopg.connect(db_url) as conn:
        plan = plan_shards(conn, shards)
    jobs = [dict(db_url=db_url, shard=s, now=now, lookback_days=lookback_days, cfg=cfg, rules=rules, only=only,
                 last_heard=_heard_of(last_heard, s)) for s in plan]
    if processes > 1 and len(plan) > 1:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding threads and connections
        with ProcessPoolExecutor(min(processes, len(plan)), mp_context=ctx) as pool:
            parts = list(pool.map(_run_job, jobs))
    else:
        parts = [_run_job(job) for job in jobs]
    return _merge(parts, rules)


def _run_job(job: dict[str, Any]) -> FleetEvaluation:
    return evaluate_shard(**job)


def _heard_of(heard: pl.DataFrame | None, shard: Shard) -> pl.DataFrame | None:
    if heard is None:
        return None
    key = pl.col("meter_key")
    inside = pl.lit(True)
    if shard.lo is not None:
        inside = inside & (key >= shard.lo)
    if shard.hi is not None:
        inside = inside & (key < shard.hi)
    inside = (inside & ~key.is_in(list(shard.excluded))) | key.is_in(list(shard.extra))
    return heard.filter(inside)


def run_rules(db_url: str, *, now: datetime, cfg: RuleConfig, rules: tuple[str, ...], lookback_days: int,
              shards: int = 1, processes: int = 1, incremental: bool = False,
              margin: timedelta = timedelta(hours=48)) -> tuple[FleetEvaluation, bool]:
    """Every rule over the fleet (``incremental``: over the meters with readings measured after the previous
    run's ``now`` − ``margin``, and the registry rules over all); returns the merged evaluation and whether it
    was a full run (an incremental run without a previous one is a full run)."""
    with psycopg.connect(db_url) as conn:
        previous = analysis_state.last_progress(conn) if incremental else None
        if previous is None:
            ev = evaluate_fleet(db_url, now=now, lookback_days=lookback_days, cfg=cfg, rules=rules, shards=shards,
                                processes=processes)
            return ev, True
        since = min(previous, now) - margin
        changed = analysis_state.changed_meters(conn, since=since, until=now)
        recent = analysis_state.recent_last_heard(conn, since=since, until=now)
        stored = analysis_state.stored_last_heard(conn)
    heard = pl.concat([stored, recent]).group_by("meter_key", "source").agg(pl.col("last_at").max())
    reading_rules = tuple(r for r in rules if r not in FLEET_RULES)
    ev = evaluate_fleet(db_url, now=now, lookback_days=lookback_days, cfg=cfg, rules=reading_rules, shards=shards,
                        processes=processes, only=changed, last_heard=pl.DataFrame(schema=LAST_HEARD_SCHEMA))
    fleet_rules = tuple(r for r in rules if r in FLEET_RULES)
    t = time.perf_counter()
    fleet = evaluate(pl.DataFrame(schema=READINGS_SCHEMA), meters=load_meters(db_url), points=load_points(db_url),
                     last_heard=heard.filter(pl.col("last_at") <= now), cfg=cfg, now=now, rules=fleet_rules)
    merged = _merge([ev, FleetEvaluation(fleet.detections, fleet.evaluated_meters, fleet.seconds)], rules)
    merged.seconds["fleet_rules"] = time.perf_counter() - t
    merged.last_heard = recent
    return merged, False
