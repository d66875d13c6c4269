"""The systemd units in deploy/: ``systemd-analyze verify`` accepts every one of them (unknown keys, bad values
and missing executables are reported), each runs as the ``odczyt`` user with the hardening set, reads the
settings file through ODCZYT_ENV_FILE, and the timers fire at the intervals the docs promise."""

from __future__ import annotations

import configparser
import itertools
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALLED = "/opt/odczyt/.venv/bin/odczyt"
SERVICES = sorted(p.name for p in DEPLOY.glob("*.service"))
TIMERS = {"odczyt-analyze.timer": 15 * 60, "odczyt-alerts-dispatch.timer": 60, "odczyt-maintain.timer": 86400}
HARDENING = {"NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true",
             "User": "odczyt", "CapabilityBoundingSet": ""}
analyze = shutil.which("systemd-analyze")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(re.sub(r"(?m)^(Environment|DeviceAllow)=", lambda m: f"{m.group(1)}.{m.start()}=",
                              (DEPLOY / name).read_text()))
    return parser


@pytest.mark.skipif(analyze is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    odczyt = Path(sys.executable).parent / "odczyt"
    assert odczyt.exists(), "the odczyt console script is not installed in this environment"
    for unit in [*SERVICES, *TIMERS]:
        text = (DEPLOY / unit).read_text()
        assert unit.endswith(".timer") or INSTALLED in text, f"{unit} does not run {INSTALLED}"
        (tmp_path / unit).write_text(text.replace(INSTALLED, str(odczyt)))
    names = [u.replace("@.service", "@ingest-1.service") for u in [*SERVICES, *TIMERS]]
    proc = subprocess.run([str(analyze), "verify", *names], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if "odczyt" in line]
    assert proc.returncode == 0 and not ours, "\n".join(ours) or proc.stderr


def test_expected_units_exist() -> None:
    expected = {"odczyt-serve.service", "odczyt-ingest@.service", "odczyt-collect.service", "odczyt-migrate.service"}
    assert expected <= set(SERVICES)
    for timer in TIMERS:
        assert (DEPLOY / timer.replace(".timer", ".service")).exists()


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_is_hardened_and_reads_the_env_file(unit: str) -> None:
    service = _unit(unit)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{unit}: {key}={service.get(key)!r}, want {value!r}"
    envs = [v for k, v in service.items() if k.startswith("Environment.")]
    assert any(v.startswith("ODCZYT_ENV_FILE=/etc/odczyt/") for v in envs), unit
    if service.get("Type") != "oneshot" or unit == "odczyt-migrate.service":
        assert service.get("Restart") in ("on-failure", "always"), unit


@pytest.mark.skipif(analyze is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize(("timer", "period_s"), sorted(TIMERS.items()))
def test_timers_fire_at_their_period(timer: str, period_s: int) -> None:
    calendar = _unit(timer)["Timer"]["OnCalendar"]
    proc = subprocess.run([str(analyze), "calendar", "--iterations=4", calendar], capture_output=True, text=True,
                          timeout=30, env={"TZ": "UTC", "LC_ALL": "C"})
    stamps = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", proc.stdout)
    times = [datetime.fromisoformat(s) for s in stamps[-4:]]
    assert len(times) == 4, proc.stdout + proc.stderr
    assert {int((b - a).total_seconds()) for a, b in itertools.pairwise(times)} == {period_s}
