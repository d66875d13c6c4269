"""Customer notices: a customer's subscription to leak notices at their service point (e-mail or SMS to their
own contact, optionally their own leak threshold), opt-in and opt-out recorded with time and source.

Operations staff manage any service point; a ``portal`` credential (the e-BOK) only those in its scope.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator

from alerts.channels.sms import normalize_phone
from api.auth import CurrentPrincipal, Role, ensure_service_point, require
from api.deps import Conn, request_id
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from api.params import Name, PathId
from storage import audit
from storage import notices as store
from storage.errors import RegistryError

router = APIRouter(prefix="/v1", tags=["notices"], dependencies=[require(Role.operations, Role.portal)])
SubId = PathId
# not blank, no NUL anywhere (a bare \S would match the NUL itself)
Source = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$")]
_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,255}\.[A-Za-z]{2,63}$")


class NoticeIn(BaseModel):
    """A customer's opt-in: how to reach them, from what threshold, and where the consent came from."""

    channel: Literal["email", "sms"]
    contact: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    leak_threshold_m3h: Annotated[float | None, Field(gt=0, le=100)] = None
    source: Source

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str, info: Any) -> str:
        if info.data.get("channel") == "email":
            if not _EMAIL.match(value):
                raise ValueError("not an e-mail address")
            return value
        normalize_phone(value)  # ValueError: not a phone number
        return value


class ConsentIn(BaseModel):
    """Where an opt-out (or a renewed opt-in) came from."""

    source: Source


class ConsentOut(BaseModel):
    at: datetime
    action: str
    source: str


class NoticeOut(BaseModel):
    """One customer subscription with its consent state."""

    id: int
    service_point_id: str
    address: str | None
    customer_ref: str | None
    channel: str
    target: str
    kinds: list[str] | None
    events: list[str]
    leak_threshold_m3h: float | None
    active: bool
    opted_in_at: datetime | None
    opted_out_at: datetime | None
    consent_source: str | None
    created_at: datetime
    consents: list[ConsentOut] = []


def _one(conn: Any, principal: Any, subscription_id: int) -> dict[str, Any]:
    row = store.get_subscription(conn, subscription_id=subscription_id)
    if row is None:
        raise HTTPException(404, f"customer notice subscription {subscription_id} not found")
    ensure_service_point(principal, row["service_point_id"])
    return row


def _out(conn: Any, row: dict[str, Any]) -> NoticeOut:
    return NoticeOut(**row, consents=[ConsentOut(**c) for c in store.consents(conn, subscription_id=row["id"])])


class NoticePage(Page[NoticeOut]):
    """Customer subscriptions of one service point, oldest first."""


@router.get("/service-points/{service_point_id}/notices", response_model=NoticePage)
def list_notices(conn: Conn, principal: CurrentPrincipal, request: Request, response: Response,
                 service_point_id: Name, limit: Limit = 100, cursor: CursorParam = None) -> NoticePage:
    """The customer notice subscriptions of one service point, with their consent history."""
    ensure_service_point(principal, service_point_id)
    after = decode_cursor("notices", cursor, (int,))[0] if cursor else None
    rows = store.list_subscriptions(conn, service_point_id=service_point_id, limit=limit + 1, after_id=after)
    rows, nxt = page_of(rows, limit, "notices", lambda r: (r["id"],))
    link_next(request, response, nxt)
    return NoticePage(items=[_out(conn, r) for r in rows], next=nxt)


@router.post("/service-points/{service_point_id}/notices", response_model=NoticeOut, status_code=201)
def subscribe(conn: Conn, principal: CurrentPrincipal, request: Request, service_point_id: Name,
              body: NoticeIn) -> NoticeOut:
    """Opt a customer in to leak notices at their service point (consent recorded with its source)."""
    ensure_service_point(principal, service_point_id)
    with conn.transaction():
        try:
            sub_id = store.subscribe(conn, service_point_id=service_point_id, channel=body.channel,
                                     contact=body.contact, source=body.source, at=datetime.now(UTC),
                                     leak_threshold_m3h=body.leak_threshold_m3h)
        except RegistryError as exc:
            raise HTTPException(404 if "no service point" in str(exc) else 422, str(exc)) from None
        audit.record(conn, actor=principal.actor, action="notice.opt_in", subject=f"notice:{sub_id}",
                     after={"service_point_id": service_point_id, "channel": body.channel, "source": body.source},
                     request_id=request_id(request))
    return _out(conn, _one(conn, principal, sub_id))


def _consent(conn: Any, principal: Any, request: Request, subscription_id: int, body: ConsentIn,
             action: Literal["opt_out", "opt_in"]) -> NoticeOut:
    with conn.transaction():
        _one(conn, principal, subscription_id)
        change = store.opt_out if action == "opt_out" else store.opt_in_again
        if not change(conn, subscription_id=subscription_id, source=body.source, at=datetime.now(UTC)):
            state = "opted out" if action == "opt_out" else "active"
            raise HTTPException(409, f"subscription {subscription_id} is already {state}")
        audit.record(conn, actor=principal.actor, action=f"notice.{action}", subject=f"notice:{subscription_id}",
                     after={"source": body.source}, request_id=request_id(request))
    return _out(conn, _one(conn, principal, subscription_id))


@router.post("/notices/{subscription_id}/opt-out", response_model=NoticeOut)
def opt_out(conn: Conn, principal: CurrentPrincipal, request: Request, subscription_id: SubId,
            body: ConsentIn) -> NoticeOut:
    """Stop a customer's notices; the opt-out is recorded with its time and source."""
    return _consent(conn, principal, request, subscription_id, body, "opt_out")


@router.post("/notices/{subscription_id}/opt-in", response_model=NoticeOut)
def opt_in(conn: Conn, principal: CurrentPrincipal, request: Request, subscription_id: SubId,
           body: ConsentIn) -> NoticeOut:
    """Resume an opted-out customer's notices (a new opt-in, recorded)."""
    return _consent(conn, principal, request, subscription_id, body, "opt_in")
