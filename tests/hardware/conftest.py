"""Make ``import hardware`` resolve to the project package, not this test folder.

pytest (rootdir-relative "prepend" import mode) puts ``tests/`` on ``sys.path`` for the root conftest, where
``tests/hardware`` would shadow the real package as a namespace package. Putting the project root first
fixes that; ``pythonpath = ["."]`` in pyproject.toml would make this file unnecessary.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
# A package imported before this file ran may have resolved to a test folder (namespace package): re-import it.
for _name in ("core", "hardware", "collectors", "pipeline"):
    _mod = sys.modules.get(_name)
    if _mod is not None and getattr(_mod, "__file__", None) is None:
        del sys.modules[_name]
        importlib.import_module(_name)
