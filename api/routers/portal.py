"""Portal reads (issue 14), for the customer portal (role ``portal``, scoped to its service points) and staff:
a customer's service points, a service point's meters with legalization "valid until" and open leak alerts,
its reading history with each value's basis, and its consumption per local day or month computed by the same
rules as a billing run (so a chart and an invoice agree)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.auth import CurrentPrincipal, Role, ensure_service_point, require
from api.deps import Conn
from api.params import Day, Instant
from api.routers.billing_runs import billing_settings, thresholds
from core.billing_rules import billing_line
from storage import billing_portal as store
from storage.billing_load import load_spans

router = APIRouter(prefix="/v1/portal", tags=["portal"],
                   dependencies=[require(Role.portal, Role.operations, Role.billing)])
SpId = Annotated[str, Path(min_length=1, max_length=200)]


def _known(conn: Any, principal: Any, service_point_id: str) -> dict[str, Any]:
    ensure_service_point(principal, service_point_id)
    sp = store.summary(conn, service_point_id)
    if sp is None:
        raise HTTPException(404, f"no service point {service_point_id}")
    return sp


@router.get("/customers/{customer_ref}/service-points")
def customer_points(customer_ref: Annotated[str, Path(min_length=1, max_length=200)], conn: Conn,
                    principal: CurrentPrincipal) -> dict[str, Any]:
    """The service points of a customer reference (those in the caller's scope)."""
    rows = [r for r in store.by_customer(conn, customer_ref) if principal.may_see_service_point(r["id"])]
    return {"items": rows, "next": None}


@router.get("/service-points/{service_point_id}")
def point(service_point_id: SpId, conn: Conn, principal: CurrentPrincipal) -> dict[str, Any]:
    """Address, current meters with legal "valid until", open leak alerts."""
    return _known(conn, principal, service_point_id)


@router.get("/service-points/{service_point_id}/readings")
def readings(service_point_id: SpId, conn: Conn, principal: CurrentPrincipal,
             start: Annotated[Instant, Query(alias="from")], end: Annotated[Instant, Query(alias="to")],
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """Reading history (radio, edited, accepted manual) newest first, each with its basis and flags."""
    _known(conn, principal, service_point_id)
    if end <= start or end - start > timedelta(days=800):
        raise HTTPException(422, "from/to: to after from, at most 800 days")
    return {"items": store.history(conn, service_point_id, start, end, limit), "next": None}


def _buckets(first: date, last: date, granularity: str) -> list[tuple[date, date]]:
    out, d = [], first
    while d <= last:
        nxt = d + timedelta(days=1) if granularity == "day" else (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        out.append((d, min(nxt - timedelta(days=1), last)))
        d = nxt
    return out


@router.get("/service-points/{service_point_id}/usage")
def usage(service_point_id: SpId, conn: Conn, principal: CurrentPrincipal, first: Day, last: Day,
          granularity: Literal["day", "month"] = "day") -> dict[str, Any]:
    """Consumption per local (Europe/Warsaw) day or month from ``first`` to ``last``, each with its basis."""
    _known(conn, principal, service_point_id)
    if last < first or (last - first).days > 400:
        raise HTTPException(422, "first/last: last not before first, at most 400 days")
    th, now = thresholds(), datetime.now(UTC)
    ((_, spans, persons),) = load_spans(conn, [service_point_id], first, last, billing_settings().history_days)
    items = []
    for a, b in _buckets(first, last, granularity):
        ln = billing_line(service_point_id, spans, a, b, now=now, th=th, persons=persons)
        items.append({"first": a, "last": b, "consumption_m3": ln.consumption_m3, "basis": ln.basis,
                      "flags": list(ln.flags)})
    return {"timezone": "Europe/Warsaw", "granularity": granularity, "items": items}
