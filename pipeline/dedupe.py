"""Time-window dedupe for one ingest worker (the database merge dedupes across workers).

Two levels, as domain notes §6 advise: identical frame bytes heard by several gateways (the frame digest),
and the same telegram re-sent through a repeater that altered the link layer (meter, access number and
the digest of the decrypted payload). Entries expire ``window_s`` after they were first seen.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime


class WindowSet:
    """Keys first seen at a time, forgotten ``window_s`` later (measured in the frames' own timestamps)."""

    def __init__(self, window_s: float, max_entries: int = 1_000_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: OrderedDict[Hashable, tuple[datetime, object]] = OrderedDict()

    def get(self, key: Hashable, at: datetime) -> object | None:
        """The value stored with ``key`` when it was first seen within the window before/after ``at``."""
        hit = self._seen.get(key)
        if hit is None:
            return None
        if abs((at - hit[0]).total_seconds()) > self.window_s:
            return None
        return hit[1]

    def add(self, key: Hashable, at: datetime, value: object = True) -> None:
        """Remember ``key`` (replacing an expired entry) and drop entries that fell out of the window."""
        self._seen[key] = (at, value)
        self._seen.move_to_end(key)
        while self._seen:
            oldest_key, (oldest_at, _) = next(iter(self._seen.items()))
            if len(self._seen) <= self.max_entries and (at - oldest_at).total_seconds() <= self.window_s:
                break
            del self._seen[oldest_key]

    def __len__(self) -> int:
        return len(self._seen)
