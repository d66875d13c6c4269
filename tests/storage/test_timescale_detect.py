"""Backend detection: TimescaleDB only when the library is installed AND preloaded, else native."""

from __future__ import annotations

import logging

import psycopg
import pytest

from storage import timescale


@pytest.mark.parametrize(("setting", "expected"), [
    ("", False),
    ("pg_stat_statements", False),
    ("timescaledb", True),
    ("pg_stat_statements, timescaledb", True),
    ('"timescaledb"', True),
    ("$libdir/timescaledb", True),
    ("timescaledb-2.28.3", True),
    ("timescaledb_toolkit", False),
])
def test_preload_setting_parsed(setting: str, expected: bool) -> None:
    assert timescale.preloads_timescaledb(setting) is expected


def test_detection_matches_the_server(fresh_db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the server is, detection agrees with whether CREATE EXTENSION would work there."""
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        installed = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone() is not None
        preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]  # type: ignore[index]
        with caplog.at_level(logging.INFO, logger="storage.timescale"):
            available = timescale.timescale_available(conn)
        assert available is (installed and timescale.preloads_timescaledb(preload))
        assert timescale.choose_backend(conn) == ("timescaledb" if available else "native")
        if installed and not available:
            assert "not in shared_preload_libraries" in caplog.text
            with pytest.raises(psycopg.Error):  # the loader refuses (and ends the session)
                conn.execute("CREATE EXTENSION timescaledb")
