"""Settings come from ODCZYT_* variables, nested with __, and never from module import."""

from __future__ import annotations

import pytest

from core.settings import Settings


def test_settings_read_prefixed_and_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODCZYT_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("ODCZYT_INGEST__BATCH_SIZE", "777")
    monkeypatch.setenv("ODCZYT_COLLECTOR__GATEWAY_ID", "gw-9")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url is not None and s.database_url.get_secret_value() == "postgresql://u@h/db"
    assert "postgresql" not in repr(s.database_url)  # secrets do not leak into logs
    assert s.ingest.batch_size == 777
    assert s.collector.gateway_id == "gw-9"


def test_settings_reject_an_in_flight_cap_beyond_paho_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODCZYT_MQTT__MAX_INFLIGHT", "70000")
    with pytest.raises(ValueError, match="max_inflight"):
        Settings(_env_file=None)  # type: ignore[call-arg]
