"""Collector test fixtures; puts the project root first on ``sys.path`` (see tests/hardware/conftest.py)."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
# A package imported before this file ran may have resolved to a test folder (namespace package): re-import it.
for _name in ("core", "hardware", "collectors", "pipeline"):
    _mod = sys.modules.get(_name)
    if _mod is not None and getattr(_mod, "__file__", None) is None:
        del sys.modules[_name]
        importlib.import_module(_name)

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
