"""Time-window dedupe for one ingest worker (the database merge dedupes across workers).

Two levels, as domain notes §6 advise: identical frame bytes heard by several gateways (the frame digest),
and the same telegram re-sent through a repeater that altered the link layer, or delivered by a receiver
that strips CRCs while another keeps them (meter, access number and the digest of the decrypted payload).

Two copies match when their own reception times lie within ``window_s`` of each other. Entries are
forgotten by *arrival* age (wall clock, ``retention_s``) and a size cap — not by the newest frame time: a
gateway that drains hours of spool after an outage delivers copies whose frame times are far behind what
other gateways already delivered, and those must still meet their first copy.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime

SWEEP_EVERY_S = 1.0


class WindowSet:
    """Keys with the frame time they were first seen at; forgotten ``retention_s`` after arrival."""

    def __init__(self, window_s: float, max_entries: int = 1_000_000, retention_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self.retention_s = max(window_s, 900.0) if retention_s is None else retention_s
        self._clock = clock
        self._seen: OrderedDict[Hashable, tuple[datetime, object, float]] = OrderedDict()
        self._next_sweep = -math.inf

    def get(self, key: Hashable, at: datetime) -> object | None:
        """The value stored with ``key`` when it was first seen within ``window_s`` of ``at``."""
        hit = self._seen.get(key)
        if hit is None or abs((at - hit[0]).total_seconds()) > self.window_s:
            return None
        return hit[1]

    def add_new(self, key: Hashable, at: datetime) -> bool:
        """``get(key, at) is None`` followed, when true, by ``add(key, at)`` — in one look-up of ``key``, as the
        ingest asks of every frame and telegram."""
        seen = self._seen
        hit = seen.get(key)
        if hit is not None:
            if hit[1] is not None and abs((at - hit[0]).total_seconds()) <= self.window_s:
                return False
            seen.move_to_end(key)
        now = self._clock()
        seen[key] = (at, True, now)
        if now >= self._next_sweep or len(seen) > self.max_entries:
            self._sweep(now)
        return True

    def add(self, key: Hashable, at: datetime, value: object = True) -> None:
        """Remember ``key`` (replacing an older entry) and forget what arrived too long ago.

        Old entries are swept at most once a second (or when the set is over its size): an entry may outlive
        its retention by that second, which only keeps a copy findable a little longer.
        """
        now = self._clock()
        seen = self._seen
        if key in seen:
            seen.move_to_end(key)
        seen[key] = (at, value, now)
        if now >= self._next_sweep or len(seen) > self.max_entries:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_key, (_, _, arrived) = next(iter(seen.items()))
            if len(seen) <= self.max_entries and now - arrived <= self.retention_s:
                break
            del seen[oldest_key]
        self._next_sweep = now + SWEEP_EVERY_S

    def __len__(self) -> int:
        return len(self._seen)
