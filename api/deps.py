"""Request dependencies: a database connection from the app's pool, the request id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled connection for one request (read-only work; commits nothing unless a router does)."""
    pool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(get_conn)]


def request_id(request: Request) -> str:
    """The request's id for audit rows: the middleware's or the client's ``X-Request-ID``, else a new one."""
    rid = getattr(request.state, "request_id", None) or request.headers.get("x-request-id", "")[:128]
    if not rid:
        rid = uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)
