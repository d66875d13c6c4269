"""``GET /v1/audit``: the audit log (admin), newest first, keyset-paged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.auth import Role, require
from api.deps import Conn
from api.pagination import CursorParam, Limit, Page, decode_cursor, link_next, page_of
from api.params import Instant, Name
from storage import audit as store

router = APIRouter(prefix="/v1", tags=["audit"], dependencies=[require(Role.admin)])


class AuditEntryOut(BaseModel):
    """One audited write: who, when, what, on which subject, and the state before and after."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditPage(Page[AuditEntryOut]):
    """A page of audit entries, newest first."""


@router.get("/audit", response_model=AuditPage)
def list_audit(
    conn: Conn,
    request: Request,
    response: Response,
    actor: Annotated[Name | None, Query(description="e.g. key:billing-export, user:anna, oidc:<sub>")] = None,
    action: Annotated[Name | None, Query(description="e.g. alert.ack, or a prefix: alert.*")] = None,
    subject: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$",
                                         description="e.g. alert:17")] = None,
    since: Annotated[Instant | None, Query(description="At or after (inclusive)")] = None,
    until: Annotated[Instant | None, Query(description="Before (exclusive)")] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> AuditPage:
    """Audit entries newest first, filtered by actor, action (``alert.*`` for a prefix), subject, time."""
    before_id = decode_cursor("audit", cursor, (int,))[0] if cursor else None
    rows = store.list_entries(conn, actor=actor, action=action, subject=subject, since=since, until=until,
                              before_id=before_id, limit=limit + 1)
    rows, nxt = page_of(rows, limit, "audit", lambda r: (r["id"],))
    link_next(request, response, nxt)
    return AuditPage(items=[AuditEntryOut(**r) for r in rows], next=nxt)
