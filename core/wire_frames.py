"""Per-frame decoding of a v1 frame message: one bad frame never costs the message's good ones.

:func:`decode_lenient` checks the limits first (size, bracket count, nesting depth — before any parser runs),
then the envelope (``v``, ``gateway``: a bad envelope rejects the message), then every frame on its own: a frame
with a bad time (out of range, year 0001/9999, before 2000, far in the future), bad hex, a bad link mode or any
other field is returned as a :class:`RejectedFrame` with its reason, and the others as usual ``FrameItem`` s.
Text fields may not hold control characters (PostgreSQL refuses NUL in text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from core.types import Position
from core.wire import (
    MAX_FRAMES_PER_MESSAGE,
    WIRE_VERSION,
    FrameItem,
    WireError,
    WireFrame,
    _Decline,
    _item,
)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 8  # a v1 message nests 4 deep (message, frames, frame, position)
MAX_BRACKETS = 4 * MAX_FRAMES_PER_MESSAGE + 16
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(hours=24)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]").search
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]').finditer


class MessageRejected(WireError):
    """The whole message is unusable; ``reason`` is the dead-letter reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RejectedFrame:
    """One frame of a message refused on its own (``payload``: a v1 message holding just that frame)."""

    index: int
    reason: str
    detail: str
    payload: bytes


def check_limits(payload: bytes) -> None:
    """Refuse, before parsing, a message too large, with too many brackets or nested too deep."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageRejected("too_large", f"{len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    brackets = payload.count(b"[") + payload.count(b"{")
    if brackets > MAX_BRACKETS:
        raise MessageRejected("too_many_fields", f"{brackets} brackets > {MAX_BRACKETS}")
    if brackets > MAX_DEPTH and _depth(payload) > MAX_DEPTH:  # deeper than MAX_DEPTH needs more brackets
        raise MessageRejected("too_deep", f"nested deeper than {MAX_DEPTH}")


def _depth(payload: bytes) -> int:
    depth = deepest = 0
    for token in _TOKENS(payload):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


_SENT_AT = re.compile(rb'"sent_at":\s?"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d))"').search


def sent_at_of(payload: bytes) -> datetime | None:
    """The message's ``sent_at`` (the gateway's clock when it published), read from its head; None if absent."""
    found = _SENT_AT(payload, 0, 400)
    if found is None:
        return None
    try:
        return datetime.fromisoformat(found[1].decode()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def clean_text(text: str) -> str:
    """``text`` with control characters escaped (for dead-letter details: PostgreSQL refuses NUL)."""
    return text.encode("unicode_escape", "backslashreplace").decode("ascii") if _CONTROL(text) else text


def decode_lenient(payload: bytes, now: datetime | None = None) -> tuple[str, list[FrameItem], list[RejectedFrame]]:
    """``(gateway, good frames, rejected frames)``; raise :class:`MessageRejected` for a bad envelope."""
    check_limits(payload)
    try:
        doc: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MessageRejected("not_json", f"frame message: {exc}") from None
    gateway, frames = _envelope(doc)
    latest = (now or datetime.now(UTC)) + MAX_FUTURE
    items: list[FrameItem] = []
    rejected: list[RejectedFrame] = []
    for index, raw in enumerate(frames):
        try:
            item = _frame(raw)
            _plausible(item, latest)
        except _Refused as exc:
            single = json.dumps({"v": WIRE_VERSION, "gateway": gateway, "frames": [raw]}).encode()
            rejected.append(RejectedFrame(index, exc.reason, clean_text(f"frames.{index}: {exc}")[:1000], single))
        else:
            items.append(item)
    return gateway, items, rejected


def _envelope(doc: Any) -> tuple[str, list[Any]]:
    if type(doc) is not dict:
        raise MessageRejected("schema", "frame message: body: not an object")
    if doc.get("v") != WIRE_VERSION or type(doc.get("v")) is not int:
        raise MessageRejected("schema", f"frame message: v: unsupported message version {doc.get('v')!r}"[:300])
    gateway, frames = doc.get("gateway"), doc.get("frames")
    if type(gateway) is not str or not 1 <= len(gateway) <= 128:
        raise MessageRejected("schema", "frame message: gateway: a string of 1 to 128 characters expected")
    if _CONTROL(gateway) or not gateway.isprintable():
        raise MessageRejected("bad_text", f"frame message: gateway: control character in {clean_text(gateway)!r}")
    try:
        gateway.encode()
    except UnicodeEncodeError:
        raise MessageRejected("bad_text", "frame message: gateway: not valid Unicode") from None
    if type(frames) is not list or len(frames) > MAX_FRAMES_PER_MESSAGE:
        raise MessageRejected("schema", f"frame message: frames: a list of at most {MAX_FRAMES_PER_MESSAGE} expected")
    return gateway, frames


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _frame(raw: object) -> FrameItem:
    try:
        return _item(raw)
    except (_Decline, ValueError, OverflowError):
        pass
    try:
        w = WireFrame.model_validate(raw)
        position = None if w.position is None else Position(
            lat=w.position.lat, lon=w.position.lon,
            fix_at=w.position.fix_at.astimezone(UTC) if w.position.fix_at else None, hdop=w.position.hdop)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        reason = "bad_hex" if where == "frame_hex" else "bad_time" if "received_at" in where else "schema"
        raise _Refused(reason, f"{where or 'frame'}: {first.get('msg')}") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise _Refused("bad_time", f"{type(exc).__name__}: {exc}") from None
    return (bytes.fromhex(w.frame_hex), w.received_at, w.rssi_dbm, w.link_mode, position)


def _plausible(item: FrameItem, latest: datetime) -> None:
    received_at = item[1]
    if received_at < EARLIEST:
        raise _Refused("implausible_time", f"received_at {received_at.isoformat()} is before 2000")
    if received_at > latest:
        raise _Refused("implausible_time", f"received_at {received_at.isoformat()} is in the future")

