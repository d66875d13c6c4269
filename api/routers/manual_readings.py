"""Manual readings and edits (issue 14): a customer's (portal), crew's or staff's reading of a service point's
meter, answered at once (accepted / needs_verification / refused, with why); the staff queue of readings to
verify; staff edits of a radio reading (replace or confirm, with a reason; the original is kept). All audited.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field, StringConstraints

from api.auth import CurrentPrincipal, Role, ensure_service_point, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, page_of
from api.params import NO_NUL, Instant, PathId
from api.routers.billing_runs import billing_settings, thresholds
from core.billing_manual import judge
from core.ids import meter_key
from storage import audit
from storage import manual_readings as store

router = APIRouter(prefix="/v1", tags=["readings"])
ReadingId = PathId
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]
MeterRef = Annotated[str, Path(pattern=r"^[A-Za-z]{3}-[0-9A-Fa-f]{8}$",
                               description="Manufacturer and id, e.g. KAM-00000001")]
_SOURCE = {Role.portal: "customer", Role.crew: "crew"}


class ManualIn(BaseModel):
    """A reading taken by a person; ``photo_base64`` is optional and bounded (ODCZYT_BILLING__PHOTO_MAX_BYTES)."""

    value_m3: Annotated[float, Field(ge=0, le=1e7)]
    taken_at: Instant
    meter: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}-[0-9A-Fa-f]{8}$")] | None = None
    photo_base64: Annotated[str, StringConstraints(max_length=200_000)] | None = None
    photo_type: Literal["image/jpeg", "image/png", "image/webp"] | None = None


class ManualOut(BaseModel):
    id: int
    service_point_id: str
    taken_at: datetime
    value_m3: float
    source: str
    status: str
    reasons: list[str]
    actor: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    has_photo: bool


class ManualPage(Page[ManualOut]):
    """Readings waiting for verification, oldest first."""


class DecisionIn(BaseModel):
    reason: Reason | None = None


class EditIn(BaseModel):
    """Replace a reading's value or confirm it (a confirmed reading is valid whatever the rules say)."""

    action: Literal["replace", "confirm"]
    value_m3: Annotated[float, Field(ge=0, le=1e7)] | None = None
    reason: Reason


def _key(meter: str) -> int:
    """The storage key of 'MAN-12345678' (422 when the manufacturer cannot be encoded)."""
    try:
        return meter_key(meter[:3].upper(), meter[4:].upper())
    except ValueError as exc:
        raise HTTPException(422, f"meter {meter!r}: {exc}") from None


def _out(row: dict[str, Any]) -> ManualOut:
    return ManualOut(**{k: v for k, v in row.items() if k != "meter_key"})


def _photo(body: ManualIn) -> bytes | None:
    if body.photo_base64 is None:
        return None
    try:
        raw = base64.b64decode(body.photo_base64, validate=True)
    except binascii.Error:
        raise HTTPException(422, "photo_base64 is not base64") from None
    if len(raw) > billing_settings().photo_max_bytes:
        raise HTTPException(413, f"the photo is larger than {billing_settings().photo_max_bytes} bytes")
    return raw


@router.post("/service-points/{service_point_id}/readings", response_model=ManualOut, status_code=201,
             dependencies=[require(Role.portal, Role.crew, Role.operations)])
def post_reading(service_point_id: Annotated[str, Path(min_length=1, max_length=200)], body: ManualIn,
                 conn: Conn, request: Request, principal: CurrentPrincipal) -> ManualOut:
    """Judge and store a manual reading; refused ones are stored too, with why."""
    ensure_service_point(principal, service_point_id)
    photo = _photo(body)
    source = _SOURCE.get(principal.role, "staff")
    now = datetime.now(UTC)
    key, span = store.meter_at(conn, service_point_id, body.taken_at, billing_settings().history_days)
    if key is None or span is None:
        if not _exists(conn, service_point_id):
            raise HTTPException(404, f"no service point {service_point_id}")
        raise HTTPException(409, "refused: no meter installed at this service point at taken_at")
    if body.meter is not None and _key(body.meter) != key:
        status, reasons = "refused", [f"meter {body.meter} is not at service point {service_point_id}"]
    else:
        th = thresholds()
        status, reasons = judge(body.value_m3, body.taken_at, source=source, now=now, q3_m3h=span.q3_m3h,
                                previous=store.previous_valid(span, now, th), th=th)
    with conn.transaction():
        row = store.insert(conn, service_point_id=service_point_id, meter_key=key, taken_at=body.taken_at,
                           value_m3=body.value_m3, source=source, status=status, reasons=reasons, photo=photo,
                           photo_type=body.photo_type if photo else None, actor=principal.actor)
        audit.record(conn, actor=principal.actor, action="reading.manual", subject=f"manual_reading:{row['id']}",
                     after={"service_point": service_point_id, "value_m3": body.value_m3, "status": status,
                            "reasons": reasons}, request_id=request_id(request))
    return _out(row)


def _exists(conn: Any, service_point_id: str) -> bool:
    return conn.execute("SELECT 1 FROM service_points WHERE id = %s", (service_point_id,)).fetchone() is not None


@router.get("/readings/pending", response_model=ManualPage, dependencies=[require(Role.operations)])
def get_pending(conn: Conn, limit: Limit = 100, cursor: CursorParam = None) -> ManualPage:
    """Manual readings waiting for staff verification."""
    after = decode_cursor("pending", cursor, (int,))[0] if cursor else 0
    rows, nxt = page_of(store.pending(conn, after=after, limit=limit + 1), limit, "pending", lambda r: (r["id"],))
    return ManualPage(items=[_out(r) for r in rows], next=nxt)


@router.post("/readings/pending/{reading_id}/{action}", response_model=ManualOut,
             dependencies=[require(Role.operations)])
def post_decision(reading_id: ReadingId, action: Literal["accept", "reject"], body: DecisionIn, conn: Conn,
                  request: Request, principal: CurrentPrincipal) -> ManualOut:
    """Accept (billable with basis manual:*) or reject a pending reading."""
    with conn.transaction():
        row = store.decide(conn, reading_id, accept=action == "accept", actor=principal.actor, reason=body.reason)
        if row is None:
            raise HTTPException(409 if store.get(conn, reading_id) else 404,
                                f"manual reading {reading_id} is not waiting for verification")
        audit.record(conn, actor=principal.actor, action=f"reading.{action}", subject=f"manual_reading:{reading_id}",
                     before={"status": "needs_verification"}, after={"status": row["status"], "reason": body.reason},
                     request_id=request_id(request))
    return _out(row)


@router.patch("/readings/{meter}/{measured_at}", dependencies=[require(Role.operations)])
def patch_reading(meter: MeterRef, measured_at: Annotated[Instant, Path()], body: EditIn, conn: Conn, request: Request,
                  principal: CurrentPrincipal) -> dict[str, Any]:
    """Replace or confirm a radio reading's value with a reason; the received value stays stored."""
    if (body.action == "replace") != (body.value_m3 is not None):
        raise HTTPException(422, "replace needs value_m3; confirm takes none")
    key = _key(meter)
    with conn.transaction():
        row = store.reading(conn, key, measured_at)
        if row is None:
            raise HTTPException(404, f"no reading of {meter} at {measured_at.isoformat()}")
        edit_id = store.edit(conn, row, action=body.action, value_m3=body.value_m3, reason=body.reason,
                             actor=principal.actor)
        before = {"total_m3": row["total_m3"], "edited_m3": row["edited_m3"]}
        after = {"action": body.action, "value_m3": body.value_m3, "reason": body.reason}
        audit.record(conn, actor=principal.actor, action=f"reading.{body.action}",
                     subject=f"reading:{meter}@{measured_at.isoformat()}", before=before, after=after,
                     request_id=request_id(request))
    return {"edit_id": edit_id, "meter": meter, "measured_at": row["measured_at"], "original_m3": row["total_m3"],
            **after}
