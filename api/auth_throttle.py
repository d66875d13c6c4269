"""Failed-login throttle: after ``max_failures`` wrong passwords from one client address within ``window_s``,
further logins from it are refused with 429 (before any password hash is computed) until the window passes.

Kept in the worker process (with ``--workers N`` an address gets up to N times the budget), bounded in memory:
at most ``max_clients`` addresses are tracked, the least recently failing forgotten first. A successful login
does not reset the count, so interleaving a known password does not buy more guesses.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class LoginThrottle:
    """Counts failed logins per client address in a sliding window."""

    def __init__(self, *, max_failures: int = 10, window_s: float = 300.0, max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds until ``client`` may try again (0: it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return 0
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str, now: float | None = None) -> None:
        """Record one wrong password from ``client``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[client] = times
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
