"""Print one pytest-style summary line adding up several runs' summaries (``scripts/test``).

Arguments: ``NAME=LOGFILE`` per run. The line reads like pytest's own (``N failed, M passed … in S s``) so a
CI parser that reads the last summary line sees every run's failures, followed by each run's own summary.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in ([0-9.]+)s")
_FIRST = ("failed", "error", "errors")


def main(argv: list[str]) -> int:
    """Add up the last summary line of each ``NAME=LOGFILE``; print the combined line."""
    total: Counter[str] = Counter()
    seconds = 0.0
    parts = []
    for arg in argv:
        name, _, path = arg.partition("=")
        last = None
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            match = _SUMMARY.match(line.strip())
            if match:
                last = match
        if last is None:
            total["error"] += 1
            parts.append(f"{name}: no pytest summary")
            continue
        for count, word in re.findall(r"(\d+) (\w+)", last.group(1)):
            total[word] += int(count)
        seconds += float(last.group(2))
        parts.append(f"{name}: {last.group(1)}")
    words = sorted(total, key=lambda w: (w not in _FIRST, w != "passed"))
    counts = ", ".join(f"{total[w]} {w}" for w in words)
    print(f"{counts or 'no tests ran'} in {seconds:.2f}s ({'; '.join(parts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
