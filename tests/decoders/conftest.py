"""Make ``import decoders`` resolve to the project package, not this test folder of the same name.

pytest puts ``tests/`` on ``sys.path`` (rootdir conftest, no ``__init__.py``), which would turn
``tests/decoders`` into a namespace package shadowing the real one; the project root goes first instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
_mod = sys.modules.get("decoders")
if _mod is not None and getattr(_mod, "__file__", None) is None:
    del sys.modules["decoders"]
