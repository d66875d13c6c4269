"""Conditional reads for the endpoints billing polls: a weak ``ETag`` from the response body, ``304`` on
``If-None-Match``.

The tag is a digest of the serialized body, so it changes exactly when the answer does (a new reading, a
changed target value) and costs one hash of bytes already built; nothing in the database has to track versions.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request
from starlette.responses import Response

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` tag is still current (empty body)."},
}


def etag_of(body: bytes) -> str:
    """The weak entity tag of a response body."""
    return 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = tag[2:]
    return any(t.strip().removeprefix("W/") == opaque for t in header.split(","))


def conditional_body(request: Request, body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A JSON ``body`` already serialized, with its ETag, or an empty 304 when ``If-None-Match`` matches."""
    tag = etag_of(body)
    extra = {"ETag": tag, "Cache-Control": "private, no-cache", **(headers or {})}
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=extra)
    return Response(body, media_type="application/json", headers=extra)
