"""The fault suite shares the ingest tests' helpers (tests/pipeline/ingest_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pipeline"))
