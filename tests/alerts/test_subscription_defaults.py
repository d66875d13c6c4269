"""A staff subscription made without naming events hears of every lifecycle change but comments."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from storage import alerts as store
from storage import alerts_outbox as outbox

pytestmark = pytest.mark.services
AT = datetime(2026, 11, 2, tzinfo=UTC)


def test_default_events_include_acknowledge_assign_dismiss(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        sub = outbox.add_subscription(conn, channel="mqtt", target="odczyt/v1/alerts")
        (events,) = conn.execute("SELECT events FROM alert_subscriptions WHERE id = %s", (sub,)).fetchone()
        assert events == ["raised", "escalated", "acknowledged", "assigned", "resolved", "dismissed"]
        alert_id = store.insert_alert(conn, kind="gateway_offline", subject="gw:x", meter_key=None,
                                      service_point_id=None, severity="critical", dedupe_key="1", evidence={},
                                      detected_at=AT, now=AT, gateway_id="x")
        assert alert_id is not None
        queued = [outbox.enqueue_for_subscribers(conn, alert_id=alert_id, event=e, payload={}, at=AT)
                  for e in ("acknowledged", "assigned", "dismissed", "commented")]
    assert queued == [1, 1, 1, 0]
