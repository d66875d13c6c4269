"""Collector test fixtures: a recording MQTT subscriber per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from collect_helpers import Recorder


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
