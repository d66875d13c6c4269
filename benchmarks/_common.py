"""What the benchmarks share: an embedded, migrated PostgreSQL in a temp dir, and p50/p99 of timings.

Imported as ``benchmarks._common`` (the scripts put the repository root on ``sys.path`` first).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.embedded import EmbeddedPostgres
from storage.migrate import migrate


@contextlib.contextmanager
def migrated_postgres() -> Iterator[tuple[str, Path]]:
    """An embedded PostgreSQL in a new ``odczyt-bench-*`` temp dir, migrated; yields (URL, dir), stops after."""
    base = Path(tempfile.mkdtemp(prefix="odczyt-bench-"))
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base).start()
    try:
        migrate(pg.url)
        yield pg.url, base
    finally:
        pg.stop()


def p50_p99(times_ms: list[float], digits: int) -> dict[str, float]:
    """``{"p50_ms", "p99_ms"}`` of ``times_ms``, rounded to ``digits`` (p99: the nearest rank below)."""
    times = sorted(times_ms)
    return {"p50_ms": round(statistics.median(times), digits),
            "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)], digits)}
