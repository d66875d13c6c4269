"""Quality gates that run with the suite: lint, layer contracts, strict typing of core and decoders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    proc = _run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layer_contracts_hold() -> None:
    proc = _run(str(BIN / "lint-imports"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def test_whole_tree_type_checks() -> None:
    """mypy over every package; core and decoders are strict (pyproject.toml)."""
    proc = _run(sys.executable, "-m", "mypy", "core", "decoders", "hardware", "collectors", "storage", "alerts", "api",
                "pipeline")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
