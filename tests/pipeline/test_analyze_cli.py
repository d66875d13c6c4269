"""``odczyt analyze`` and ``odczyt alerts`` against a migrated database."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_analyze_lifecycle import T0, A, add_readings, seed_registry

pytestmark = pytest.mark.services


def test_analyze_prints_raised_then_ack(db_url: str) -> None:
    seed_registry(db_url, [(A, "SP-A", True)])
    add_readings(db_url, A, T0, [0.05] * 30, 100.0)
    runner = CliRunner()
    now = (T0 + timedelta(hours=30)).isoformat()
    res = runner.invoke(app, ["analyze", "--db-url", db_url, "--now", now])
    assert res.exit_code == 0, res.output
    assert "raised (1)" in res.output and "continuous_flow" in res.output
    res = runner.invoke(app, ["alerts", "list", "--db-url", db_url, "--kind", "continuous_flow"])
    assert "continuous_flow" in res.output
    res = runner.invoke(app, ["alerts", "ack", "1", "--db-url", db_url, "--actor", "anna"])
    assert res.exit_code == 0 and "acknowledged" in res.output
