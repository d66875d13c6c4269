"""Keyset pagination: one envelope for every list, opaque validated cursors, a ``Link: rel="next"`` header.

Every list endpoint answers ``{"items": [...], "next": "<cursor>" | null, ...context}`` and, when there is a
next page, ``Link: <url-of-the-next-page>; rel="next"``. The client passes the cursor back as ``?cursor=``
with the same filters; ``limit`` is 1–10,000. A cursor is the last item's sort key, tagged with the list it
belongs to and a checksum, base64url-encoded: tampered, truncated or foreign cursors are a 422 problem.
Cursors are tamper-evident, not secret (they hold only sort keys the client has already seen).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.params import EARLIEST, INT64_MAX, LATEST

T = TypeVar("T")
MAX_LIMIT = 10_000
_MAC_KEY = b"odczyt-cursor-v1"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–10,000).")]
CursorParam = Annotated[str | None, Query(alias="cursor", max_length=2048, pattern=r"^[A-Za-z0-9_\-.]+$",
                                          description="The `next` cursor of the previous page.")]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items and the cursor of the next page (null on the last page)."""

    items: list[T]
    next: str | None = Field(description="Pass as `?cursor=` (same filters) for the next page; null at the end.")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(body: bytes) -> bytes:
    return hashlib.blake2b(body, key=_MAC_KEY, digest_size=8).digest()


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    """A cursor for list ``kind`` positioned after the item whose sort key is ``key`` (str, int, datetime)."""
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    body = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _b64(body) + "." + _b64(_mac(body))


def _bad_cursor(why: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", "cursor"), "type": "value_error",
                                    "msg": f"invalid cursor ({why}): pass a `next` value of this list unchanged"}])


def _typed(value: Any, want: type) -> Any:
    if want is datetime:
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise ValueError("not a time")
        at = datetime.fromisoformat(value["t"])
        if at.tzinfo is None or not EARLIEST <= at < LATEST:
            raise ValueError("time out of range")
        return at
    if want is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValueError("not a finite number")
        return float(value)
    if want is int:
        if type(value) is not int or not -INT64_MAX <= value <= INT64_MAX:
            raise ValueError("not a 64-bit integer")
        return value
    if not isinstance(value, str) or len(value) > 256 or "\x00" in value:
        raise ValueError("not a short string")
    return value


def decode_cursor(kind: str, token: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The sort key in a cursor made by :func:`encode_cursor` for ``kind``; a 422 problem when it is not one."""
    try:
        body_b64, mac_b64 = token.split(".")
        body, mac = _unb64(body_b64), _unb64(mac_b64)
    except (ValueError, binascii.Error) as exc:
        raise _bad_cursor("malformed") from exc
    if not hmac.compare_digest(mac, _mac(body)):
        raise _bad_cursor("checksum does not match")
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _bad_cursor("malformed") from exc
    if not isinstance(decoded, list) or not decoded or decoded[0] != kind:
        raise _bad_cursor("it belongs to another list")
    if len(decoded) != len(types) + 1:
        raise _bad_cursor("wrong length")
    try:
        return tuple(_typed(v, t) for v, t in zip(decoded[1:], types, strict=True))
    except ValueError as exc:
        raise _bad_cursor(str(exc)) from exc


def link_header(request: Request, cursor: str | None) -> dict[str, str]:
    """``{"Link": '<…?cursor=…>; rel="next"'}`` when there is a next page, else nothing."""
    if cursor is None:
        return {}
    return {"Link": f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'}


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Set the ``Link: rel="next"`` header on ``response`` when there is a next page."""
    response.headers.update(link_header(request, cursor))


def page_of(rows: list[T], limit: int, kind: str, key: Any) -> tuple[list[T], str | None]:
    """Split ``limit + 1`` fetched rows into the page and the next cursor (``key(row)`` is a row's sort key)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(kind, key(rows[-1]))
