"""The MQTT frame message, version 1 (documented in docs/mqtt-format.md).

Topic ``odczyt/v1/frames/{gateway_id}``; payload a JSON object::

    {"v": 1, "gateway": "gw-7", "sent_at": "2026-11-22T08:00:01.120Z",
     "frames": [{"received_at": "2026-11-22T08:00:00.981Z", "rssi_dbm": -81.5, "link_mode": "T1",
                 "frame_hex": "2E4493157856341233037A…", "position": {"lat": 50.06, "lon": 19.94}}]}

One message carries a list of frames so batching never changes the format. Validation is pydantic (an edge);
the ingest hot path first tries :func:`_decode_canonical`, which accepts only the canonical form the collectors
write (what :func:`encode_frames` produces) and hands anything else to pydantic, so the two cannot disagree on
a message: the fast path either returns exactly what pydantic would, or declines.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import OdczytError
from core.types import LinkMode, Position, RawFrame

WIRE_VERSION = 1
MAX_FRAME_BYTES = 512  # a wM-Bus frame is at most 256 bytes plus CRCs; anything far larger is garbage
MAX_FRAMES_PER_MESSAGE = 10_000


class WireError(OdczytError):
    """A frame message is not valid JSON or does not follow the v1 schema."""


class WirePosition(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    fix_at: datetime | None = None
    hdop: float | None = None


class WireFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    received_at: datetime
    rssi_dbm: float | None = None
    link_mode: LinkMode = LinkMode.UNKNOWN
    frame_hex: str = Field(min_length=2, max_length=2 * MAX_FRAME_BYTES)
    position: WirePosition | None = None

    @field_validator("frame_hex")
    @classmethod
    def _hex(cls, value: str) -> str:
        if len(value) % 2:
            raise ValueError("odd number of hex digits")
        if not bytes.fromhex(value):  # raises ValueError on a non-hex character
            raise ValueError("no frame bytes (only whitespace)")
        return value.upper()

    @field_validator("received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("received_at needs a timezone")
        try:
            return value.astimezone(UTC)
        except OverflowError:  # year 0001 or 9999 shifted out of range by its offset
            raise ValueError("received_at out of range") from None


class FrameMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    v: int
    gateway: str = Field(min_length=1, max_length=128)
    sent_at: datetime | None = None
    frames: list[WireFrame] = Field(max_length=MAX_FRAMES_PER_MESSAGE)

    @field_validator("v")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != WIRE_VERSION:
            raise ValueError(f"unsupported message version {value}")
        return value


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_frames(gateway: str, frames: list[RawFrame], sent_at: datetime | None = None,
                  seq: tuple[str, int, int] | None = None) -> bytes:
    """Serialise frames heard by one gateway into one v1 message.

    ``seq`` = (spool id, first, last): the gateway's spool sequence range of these frames, asked to be
    receipted on ``{prefix}/receipts/{gateway}`` once stored (optional keys ``spool`` and ``seq``, written
    right after ``gateway``; readers that do not know them ignore them)."""
    out = []
    for f in frames:
        item: dict[str, object] = {
            "received_at": _iso(f.received_at),
            "rssi_dbm": f.rssi_dbm,
            "link_mode": str(f.link_mode),
            "frame_hex": f.payload.hex().upper(),
        }
        if f.position is not None:
            pos: dict[str, object] = {"lat": f.position.lat, "lon": f.position.lon}
            if f.position.fix_at is not None:
                pos["fix_at"] = _iso(f.position.fix_at)
            if f.position.hdop is not None:
                pos["hdop"] = f.position.hdop
            item["position"] = pos
        out.append(item)
    doc: dict[str, object] = {"v": WIRE_VERSION, "gateway": gateway}
    if seq is not None:
        doc["spool"], doc["seq"] = seq[0], [seq[1], seq[2]]
    doc.update(sent_at=_iso(sent_at or datetime.now(UTC)), frames=out)
    return json.dumps(doc, separators=(",", ":")).encode()


# one frame of a message: (payload, received_at in UTC, rssi_dbm, link_mode, position); the gateway is the message's
FrameItem = tuple[bytes, datetime, float | None, LinkMode, Position | None]


def decode_frames(payload: bytes) -> tuple[str, list[RawFrame]]:
    """Parse a v1 message into ``(gateway, frames)``; raise :class:`WireError` saying what is wrong."""
    gateway, items = decode_items(payload)
    return gateway, [RawFrame(payload=p, received_at=t, source=gateway, rssi_dbm=r, link_mode=m, position=pos)
                     for p, t, r, m, pos in items]


def decode_items(payload: bytes) -> tuple[str, list[FrameItem]]:
    """:func:`decode_frames` without building :class:`RawFrame` objects (the ingest hot path): same checks,
    same errors; each item is already what a ``RawFrame`` requires (UTC time, non-empty payload)."""
    fast = _decode_canonical(payload)
    return fast if fast is not None else _decode_validated(payload)


def _decode_validated(payload: bytes) -> tuple[str, list[FrameItem]]:
    try:
        msg = FrameMessage.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise WireError(f"frame message: {where or 'body'}: {first.get('msg')}") from exc
    items: list[FrameItem] = [
        (
            bytes.fromhex(w.frame_hex),
            w.received_at,
            w.rssi_dbm,
            w.link_mode,
            None
            if w.position is None
            else Position(
                lat=w.position.lat,
                lon=w.position.lon,
                fix_at=w.position.fix_at.astimezone(UTC) if w.position.fix_at else None,
                hdop=w.position.hdop,
            ),
        )
        for w in msg.frames
    ]
    return msg.gateway, items


# --- the canonical fast path -------------------------------------------------------------------------------

# RFC 3339 with an explicit offset, the form both pydantic and datetime.fromisoformat read the same way
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)").fullmatch
# The one form encode_frames writes (UTC, milliseconds), recognised in a third of what the regex costs: its ASCII
# digits turned to 0 leave exactly this (a string that passes matches the regex; any other is left to the regex).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_WRITTEN_TIME = b"0000-00-00T00:00:00.000Z"
_LINK_MODES = {m.value: m for m in LinkMode}


class _Decline(Exception):
    """The message is not in canonical form: let pydantic judge it."""


def _time(value: object) -> datetime:
    if type(value) is not str:
        raise _Decline
    written = len(value) == 24 and value.isascii() and value.encode().translate(_DIGITS_TO_ZERO) == _WRITTEN_TIME
    if not written and _CANONICAL_TIME(value) is None:
        raise _Decline
    ts = datetime.fromisoformat(value)
    try:
        return ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    except OverflowError:  # year 0001 or 9999 shifted out of range by its offset: pydantic says why
        raise _Decline from None


def _number(value: object) -> float | None:
    if value is None:
        return None
    if type(value) is not float and type(value) is not int:
        raise _Decline  # bool, strings, …
    number = float(value)
    if not math.isfinite(number):
        raise _Decline
    return number


def _position(value: object) -> Position | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _Decline
    lat, lon = _number(value.get("lat", ...)), _number(value.get("lon", ...))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _Decline
    fix_at = value.get("fix_at")
    return Position(lat=lat, lon=lon, fix_at=None if fix_at is None else _time(fix_at), hdop=_number(value.get("hdop")))


def _item(item: object) -> FrameItem:
    if type(item) is not dict:
        raise _Decline
    text = item.get("frame_hex")
    if type(text) is not str or not 2 <= len(text) <= 2 * MAX_FRAME_BYTES:
        raise _Decline
    frame = bytes.fromhex(text)  # ValueError on a non-hex digit: declined
    if 2 * len(frame) != len(text):  # fromhex skips whitespace, pydantic's check does not count it
        raise _Decline
    mode = _LINK_MODES.get(item.get("link_mode", "unknown"))
    if mode is None:
        raise _Decline
    position = item.get("position")
    return (frame, _time(item.get("received_at")), _number(item.get("rssi_dbm")), mode,
            None if position is None else _position(position))


def _decode_canonical(payload: bytes) -> tuple[str, list[FrameItem]] | None:
    """``(gateway, items)`` of a canonical message, or None when pydantic must look at it."""
    try:
        doc: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    try:
        if type(doc) is not dict or type(doc.get("v")) is not int or doc["v"] != WIRE_VERSION:
            raise _Decline
        gateway, items, sent_at = doc.get("gateway"), doc.get("frames"), doc.get("sent_at")
        if type(gateway) is not str or not 1 <= len(gateway) <= 128:
            raise _Decline
        gateway.encode()  # a lone surrogate (json.loads lets it through) raises UnicodeEncodeError: decline
        if type(items) is not list or len(items) > MAX_FRAMES_PER_MESSAGE:
            raise _Decline
        if sent_at is not None:
            _time(sent_at)
        return gateway, [_item(item) for item in items]
    except (_Decline, ValueError):
        return None
