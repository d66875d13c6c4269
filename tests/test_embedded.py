"""The embedded services start from private (0700) temporary directories and come back after a restart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg

from pipeline.embedded import EmbeddedPostgres


def test_embedded_postgres_starts_below_a_private_temp_dir_and_restarts() -> None:
    with tempfile.TemporaryDirectory() as private:  # mode 0700, like pytest's tmp_path
        pg = EmbeddedPostgres(Path(private) / "nested" / "cluster").start()
        try:
            with psycopg.connect(pg.url, autocommit=True) as conn:
                conn.execute("CREATE TABLE t (x int)")
                conn.execute("INSERT INTO t VALUES (42)")
            pg.restart()
            with psycopg.connect(pg.url) as conn:
                assert conn.execute("SELECT x FROM t").fetchone() == (42,)
        finally:
            pg.stop()
