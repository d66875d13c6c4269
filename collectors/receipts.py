"""The gateway's side of storage receipts (pipeline/ingest_receipts.py is the ingest side).

With receipts on, a frame leaves the spool only when the ingest side says it is committed — never on the
broker's PUBACK, which a broker killed with ``kill -9`` may not honour. :class:`ReceiptTracker` holds the spool
ranges the broker acknowledged and no receipt has covered yet; a range not receipted within the timeout, or
all of them when the broker answers a reconnect with no session (receipts sent meanwhile are gone), are
published again. Re-publishing is safe: the writer dedupes, and receipts the range again.
"""

from __future__ import annotations

import json
import time


class ReceiptTracker:
    """Published ranges awaiting a receipt: ``(first, last) -> (frames, first sent at)``, monotonic times."""

    def __init__(self, spool_id: str, timeout_s: float) -> None:
        self.spool_id, self.timeout_s = spool_id, timeout_s
        self.awaiting: dict[tuple[int, int], tuple[int, float]] = {}

    def published(self, first: int, last: int, frames: int) -> None:
        """The broker acknowledged ``first..last``: wait for its receipt."""
        self.awaiting[(first, last)] = (frames, self.awaiting.get((first, last), (0, time.monotonic()))[1])

    def receipted(self, payload: bytes) -> list[tuple[int, int]]:
        """The ranges a receipt covers (to delete from the spool); an unreadable or foreign receipt: none."""
        try:
            doc = json.loads(payload)
            if doc.get("spool") != self.spool_id:
                return []
            ranges = [(int(a), int(b)) for a, b in doc["ranges"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            return []
        for first, last in ranges:
            for key in [k for k in self.awaiting if first <= k[0] and k[1] <= last]:
                del self.awaiting[key]
        return ranges

    def due(self, now: float) -> list[tuple[int, int]]:
        """Ranges whose receipt is overdue: forgotten here, to be published again."""
        late = [k for k, (_, sent) in self.awaiting.items() if now - sent > self.timeout_s]
        for key in late:
            del self.awaiting[key]
        return late

    def all(self) -> list[tuple[int, int]]:
        """Every awaiting range (the session is gone): forgotten here, to be published again."""
        found, self.awaiting = list(self.awaiting), {}
        return found

    def frames(self) -> int:
        """Frames awaiting a receipt."""
        return sum(n for n, _ in self.awaiting.values())

    def oldest_s(self, now: float) -> float:
        """Age of the oldest range awaiting a receipt (0 when none)."""
        return max((now - sent for _, sent in self.awaiting.values()), default=0.0)
