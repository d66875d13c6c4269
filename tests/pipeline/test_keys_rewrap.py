"""`odczyt keys rewrap`: every sealed value re-sealed under a new master key, all or nothing, audited; a worker
decodes with the new key and refuses to start with the old one, or without one unless allowed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from core.settings import IngestSettings, MqttSettings
from pipeline.cli import run
from pipeline.ingest import IngestWorker
from storage import alerts_outbox
from storage.errors import RegistryError
from storage.registry import load_keyring, master_key_id
from tests.pipeline.ingest_helpers import MASTER, Publisher, count, make_messages, register_meters, wait_for

NEW = bytes(range(100, 132))


def _worker(db_url: str, mqtt_url: str, prefix: str, master: bytes | None, **kw: object) -> IngestWorker:
    return IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=master, maintenance_every_s=3600,
                        settings=IngestSettings(batch_size=200, batch_ms=50), client_id=f"rw-{uuid.uuid4().hex[:8]}",
                        mqtt_settings=MqttSettings(topic_prefix=prefix), **kw)  # type: ignore[arg-type]


@pytest.fixture
def rewrapped(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ids = register_meters(db_url, tmp_path, 3)
    with psycopg.connect(db_url) as conn:
        alerts_outbox.add_subscription(conn, channel="webhook", target="http://x/", secret="s3", master_key=MASTER)
    monkeypatch.setenv("ODCZYT_DATABASE_URL", db_url)
    monkeypatch.setenv("ODCZYT_MASTER_KEY", NEW.hex())  # the wrong current key: nothing changes
    key_file = tmp_path / "new.key"
    key_file.write_text(NEW.hex() + "\n")
    assert run(["keys", "rewrap", "--new-master-key-file", str(key_file)]) == 2
    with psycopg.connect(db_url) as conn:
        assert load_keyring(conn, master_key=MASTER).lookup("KAM", ids[0])
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    assert run(["keys", "rewrap", "--new-master-key-file", str(key_file)]) == 0
    return ids


def test_rewrap_reseals_everything_and_is_audited(db_url: str, rewrapped: list[str]) -> None:
    with psycopg.connect(db_url) as conn:
        assert load_keyring(conn, master_key=NEW).lookup("KAM", rewrapped[0])
        with pytest.raises(RegistryError):
            load_keyring(conn, master_key=MASTER)
        ids = {r[0] for r in conn.execute("SELECT master_key_id FROM meter_keys UNION "
                                          "SELECT master_key_id FROM alert_subscriptions")}
        assert ids == {master_key_id(NEW)}
        (action, before, after) = conn.execute("SELECT action, before, after FROM audit_log").fetchone()  # type: ignore[misc]
    assert action == "keys.rewrap" and before == {"master_key_id": master_key_id(MASTER)}
    assert after == {"master_key_id": master_key_id(NEW), "meter_keys": 3, "webhook_secrets": 1}
    assert MASTER.hex() not in str(after) and NEW.hex() not in str(after)


def test_worker_decodes_with_the_new_key_and_refuses_the_old_one(db_url: str, mqtt_broker, tmp_path: Path,
                                                                 rewrapped: list[str]) -> None:
    prefix = f"t/rw{uuid.uuid4().hex[:6]}"
    with pytest.raises(RegistryError, match="is not the master key that sealed 3"):
        _worker(db_url, mqtt_broker.url, prefix, MASTER).start()
    with pytest.raises(RegistryError, match=r"ODCZYT_MASTER_KEY is not set.*--allow-missing-master-key"):
        _worker(db_url, mqtt_broker.url, prefix, None).start()
    worker = _worker(db_url, mqtt_broker.url, prefix, NEW).start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port, prefix)
    try:
        assert worker.wait_connected()
        pub.publish(make_messages(rewrapped, rounds=2))
        wait_for(lambda: count(db_url) == 6, what="6 decoded readings")
        assert worker.stats.undecoded == 0
    finally:
        pub.close()
        worker.stop()


def test_worker_without_master_key_starts_only_when_allowed(db_url: str, mqtt_broker, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    register_meters(db_url, tmp_path, 1)
    worker = _worker(db_url, mqtt_broker.url, "t/nokey", None, allow_missing_master_key=True).start()
    try:
        assert worker.wait_connected()
    finally:
        worker.stop()
    assert any("WARNING" in r.getMessage() and "--allow-missing-master-key" in r.getMessage() for r in caplog.records)


def test_ingest_command_with_a_foreign_master_key_exits_2_with_one_line(db_url: str, mqtt_broker,
                                                                        tmp_path: Path) -> None:
    register_meters(db_url, tmp_path, 1)
    env = {**os.environ, "ODCZYT_DATABASE_URL": db_url, "ODCZYT_MQTT_URL": mqtt_broker.url,
           "ODCZYT_MASTER_KEY": NEW.hex(), "ODCZYT_INGEST__ANALYZE_EVERY_S": "0",
           "ODCZYT_INGEST__WATCH_GATEWAYS": "false"}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--metrics-port", "0", "--no-migrate",
                           "--decode-processes", "0"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "is not the master key that sealed 1" in lines[0] and NEW.hex() not in proc.stderr


def test_rewrap_reads_the_new_key_from_stdin_or_the_environment(db_url: str, rewrapped: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("ODCZYT_MASTER_KEY", NEW.hex())
    monkeypatch.setattr("sys.stdin", io.StringIO(MASTER.hex() + "\n"))
    assert run(["keys", "rewrap", "--new-master-key-file", "-"]) == 0  # back to the first key
    with psycopg.connect(db_url) as conn:
        assert load_keyring(conn, master_key=MASTER).lookup("KAM", rewrapped[1])
    monkeypatch.setenv("ODCZYT_MASTER_KEY", MASTER.hex())
    monkeypatch.setenv("ODCZYT_NEW_MASTER_KEY", NEW.hex())
    assert run(["keys", "rewrap"]) == 0 and run(["keys", "check"]) == 2  # the old key no longer matches
    monkeypatch.setenv("ODCZYT_MASTER_KEY", NEW.hex())
    assert run(["keys", "check"]) == 0
