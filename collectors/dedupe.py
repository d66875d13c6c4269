"""Suppress the same frame repeated by the same receiver within a time window.

Receivers (and meters that send each telegram twice) repeat frames; the ingest pipeline deduplicates across
gateways anyway, this only saves radio-side noise from being spooled and sent. The window is fixed from the
last *accepted* copy, so a meter whose telegram never changes is still forwarded once per window.
"""

from __future__ import annotations

import time

from core.types import RawFrame


class Deduper:
    """Remembers ``(source, payload)`` → monotonic time it was last let through."""

    def __init__(self, window_s: float, max_entries: int = 200_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[tuple[str, bytes], float] = {}

    def accept(self, frame: RawFrame, now: float | None = None) -> bool:
        """True if ``frame`` should be kept (not a repeat within the window)."""
        if self.window_s <= 0:
            return True
        now = time.monotonic() if now is None else now
        key = (frame.source, frame.payload)
        last = self._seen.get(key)
        if last is not None and now - last < self.window_s:
            return False
        self._seen[key] = now
        if len(self._seen) > self.max_entries:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.window_s}
        while len(self._seen) > self.max_entries:  # a flood of distinct frames: forget the oldest
            self._seen.pop(next(iter(self._seen)))
