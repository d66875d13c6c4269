"""The MQTT frame message, version 1 (documented in docs/mqtt-format.md).

Topic ``odczyt/v1/frames/{gateway_id}``; payload a JSON object::

    {"v": 1, "gateway": "gw-7", "sent_at": "2026-11-22T08:00:01.120Z",
     "frames": [{"received_at": "2026-11-22T08:00:00.981Z", "rssi_dbm": -81.5, "link_mode": "T1",
                 "frame_hex": "2E4493157856341233037A…", "position": {"lat": 50.06, "lon": 19.94}}]}

One message carries a list of frames so batching never changes the format. Validation is pydantic (an edge).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
        bytes.fromhex(value)  # raises ValueError on a non-hex character
        return value.upper()

    @field_validator("received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("received_at needs a timezone")
        return value.astimezone(UTC)


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


def encode_frames(gateway: str, frames: list[RawFrame], sent_at: datetime | None = None) -> bytes:
    """Serialise frames heard by one gateway into one v1 message."""
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
    doc = {"v": WIRE_VERSION, "gateway": gateway, "sent_at": _iso(sent_at or datetime.now(UTC)), "frames": out}
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_frames(payload: bytes) -> tuple[str, list[RawFrame]]:
    """Parse a v1 message into ``(gateway, frames)``; raise :class:`WireError` saying what is wrong."""
    try:
        msg = FrameMessage.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise WireError(f"frame message: {where or 'body'}: {first.get('msg')}") from exc
    frames = [
        RawFrame(
            payload=bytes.fromhex(w.frame_hex),
            received_at=w.received_at,
            source=msg.gateway,
            rssi_dbm=w.rssi_dbm,
            link_mode=w.link_mode,
            position=None
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
    return msg.gateway, frames
