"""Collector test fixtures; puts the project root first on ``sys.path`` (see tests/hardware/conftest.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)

from collect_helpers import Recorder  # noqa: E402


@pytest.fixture
def recorder_factory() -> Iterator[Callable[[str, int], Recorder]]:
    made: list[Recorder] = []
    counter = iter(range(1000))

    def make(host: str, port: int) -> Recorder:
        rec = Recorder(host, port, client_id=f"test-rec-{time.monotonic_ns()}-{next(counter)}")
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close()
