"""The drive-by store, its reports and the gateway spool are readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.driveby_store import DrivebyStore
from collectors.private_files import private_file
from collectors.report import write_report
from collectors.route import Route, RouteMeter
from collectors.spool import Spool
from core.types import LinkMode, RawFrame


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0o000)  # the worst case: everything created world-writable unless set explicitly
    try:
        yield None
    finally:
        os.umask(old)


def _frame() -> RawFrame:
    return RawFrame(payload=bytes.fromhex("1E44A511785634120107"), received_at=datetime.now(UTC), source="t",
                    rssi_dbm=-70.0, link_mode=LinkMode("T1"))


def test_driveby_store_and_its_wal_are_owner_only(tmp_path: Path, open_umask: object) -> None:
    store = DrivebyStore(tmp_path / "van" / "session" / "s.sqlite")
    store.save_route(Route(route_id="r1", meters=(RouteMeter(meter_id="12345678", address="Długa 1",
                                                             lat=52.0, lon=21.0),)))
    store.add_frame(_frame(), "12345678", "APA", 12.5, True)
    files = sorted((tmp_path / "van" / "session").iterdir())
    assert {f.name for f in files} >= {"s.sqlite", "s.sqlite-wal", "s.sqlite-shm"}
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(tmp_path / "van") == 0o700 and _mode(tmp_path / "van" / "session") == 0o700
    paths = write_report(store, tmp_path / "report")
    store.close()
    assert (_mode(paths.csv), _mode(paths.html), _mode(tmp_path / "report")) == (0o600, 0o600, 0o700)


def test_spool_files_are_owner_only(tmp_path: Path, open_umask: object) -> None:
    spool = Spool(tmp_path / "gw" / "spool.sqlite")
    spool.append([_frame()])
    files = list((tmp_path / "gw").iterdir())
    assert len(files) >= 2 and all(_mode(f) == 0o600 for f in files), {f.name: oct(_mode(f)) for f in files}
    assert _mode(tmp_path / "gw") == 0o700


def test_existing_file_is_tightened_and_existing_directory_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    loose = shared / "old.csv"
    loose.write_text("x")
    os.chmod(loose, 0o644)
    private_file(loose)
    assert (_mode(loose), _mode(shared), loose.read_text()) == (0o600, 0o755, "x")
