"""``GET /v1/ui/service-points/{id}``: one service point for the drill-down page — address and customer
reference, installations and replacements with legalization, newest readings with their basis, its alerts
(the timeline) and the gateways that hear its current meter, with RSSI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from alerts.subject import links
from api.auth import Role, require
from api.deps import Conn
from api.params import Name
from storage import alerts as alert_store
from storage import gateways as gateway_store
from storage import ui_drilldown as store

router = APIRouter(prefix="/v1/ui", tags=["dashboard"], dependencies=[require(Role.operations)])


@router.get("/service-points/{service_point_id}")
def service_point(conn: Conn, service_point_id: Name, days: Annotated[float, Query(gt=0, le=400)] = 35.0,
                  readings: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The drill-down of one service point (404 when unknown); readings of the last ``days``, newest first."""
    point = store.service_point(conn, service_point_id=service_point_id)
    if point is None:
        raise HTTPException(404, f"no service point {service_point_id}")
    now = datetime.now(UTC)
    inst = store.installations(conn, service_point_id=service_point_id)
    rows = store.readings(conn, service_point_id=service_point_id, start=now - timedelta(days=days),
                          end=now + timedelta(days=1), limit=readings)
    alerts = alert_store.list_alerts(conn, service_point_id=service_point_id, limit=200)
    current = next((i for i in inst if i["removed_at"] is None), None)
    receptions = [] if current is None else gateway_store.meter_coverage(
        conn, meter_key=current["meter_key"], now=now, days=7.0, limit=50)
    for i in inst:
        i.pop("meter_key")
    timeline = [{"id": a["id"], "kind": a["kind"], "severity": a["severity"], "state": a["state"],
                 "subject": a["subject"], "manufacturer": a["manufacturer"], "meter_id": a["meter_id"],
                 "opened_at": a["opened_at"], "acknowledged_at": a["acknowledged_at"],
                 "resolved_at": a["resolved_at"], "dismissed_at": a["dismissed_at"], "assignee": a["assignee"],
                 "links": links(a)} for a in alerts]
    return {"service_point": point, "installations": inst, "readings": rows, "alerts": timeline,
            "receptions": [{k: r[k] for k in ("gateway_id", "frames", "median_rssi_dbm", "max_rssi_dbm",
                                              "last_heard_at", "usual", "best")} for r in receptions]}
