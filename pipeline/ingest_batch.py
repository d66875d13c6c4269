"""One ingest batch: MQTT messages in, readings/raw frames/dead letters out (no I/O here).

Poison messages (too large, not JSON, bad hex, wrong schema) become dead letters. Each frame is deduplicated
by its bytes (another gateway's copy: the reception is appended to the frame) and, once decoded, by
(meter, access number, payload digest) (a repeater's copy: kept as a frame, no second reading). Frames that
cannot be decoded yet — unknown meter, missing or wrong key, decoder error — are kept with their status for
``odczyt redecode``. A reading's ``measured_at`` is the first reception time of its telegram.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from core.ids import manufacturer_letters, meter_key
from core.types import RawFrame, Reading, ReadingSource
from core.wire import WireError, decode_frames
from decoders import CipherCache, Decoder, Telegram
from pipeline.dedupe import WindowSet
from pipeline.ingest_pool import Decoded, DecodePool, Failed, Outcome, decode_outcome, resolve
from storage.registry import KeyRing
from storage.rows import DeadLetter, FrameStatus, StoredFrame

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as the paho callback queued it (``generation`` = the connection it arrived on)."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    arrived_at: datetime


@dataclass
class _Pending:
    frame: RawFrame
    digest: bytes
    gateways: list[str]
    rssi: list[float | None]
    heard: list[datetime]
    status: FrameStatus = FrameStatus.DECODED
    error: str | None = None
    link_key: int | None = None
    meter_key: int | None = None


@dataclass
class Batch:
    """What a batch holds so far; :meth:`BatchBuilder.take` hands it to the writer."""

    messages: list[Message] = field(default_factory=list)
    frames: dict[bytes, _Pending] = field(default_factory=dict)
    extra_receptions: list[StoredFrame] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def stored_frames(self) -> list[StoredFrame]:
        out = [StoredFrame(received_at=p.heard[0], frame_digest=p.digest, payload=p.frame.payload,
                           status=p.status, gateways=tuple(p.gateways), rssi_dbm=tuple(p.rssi),
                           heard_at=tuple(p.heard), link_key=p.link_key, meter_key=p.meter_key, error=p.error,
                           link_mode=str(p.frame.link_mode),
                           lat=p.frame.position.lat if p.frame.position else None,
                           lon=p.frame.position.lon if p.frame.position else None)
               for p in self.frames.values()]
        return out + self.extra_receptions

    @property
    def size(self) -> int:
        return len(self.frames) + len(self.extra_receptions) + len(self.dead)


def dead_reason(payload: bytes, exc: WireError) -> str:
    """Classify a message the wire format rejected: ``not_json``, ``bad_hex`` or ``schema``."""
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return "not_json"
    return "bad_hex" if "frame_hex" in str(exc) else "schema"


def link_address(payload: bytes) -> tuple[str, str] | None:
    """Manufacturer and id of the DLL address (a repeater's or radio converter's, possibly)."""
    if len(payload) < 10:
        return None
    try:
        return manufacturer_letters(int.from_bytes(payload[2:4], "little")), payload[4:8][::-1].hex().upper()
    except ValueError:
        return None


class BatchBuilder:
    """Turns messages into batch content, keeping the per-worker dedupe windows across batches."""

    def __init__(self, *, keyring: KeyRing, dedupe_window_s: float, pool: DecodePool | None = None) -> None:
        # one decoder for the worker's life: compact formats learnt and per-key AES contexts are kept
        self.decoder = Decoder(keyring.lookup, ciphers=CipherCache(max_size=1 << 16))
        self.pool = pool
        self._keyring = keyring
        self.frames_seen = WindowSet(dedupe_window_s)
        self.telegrams_seen = WindowSet(dedupe_window_s)
        self.batch = Batch()
        self._waiting: list[_Pending] = []  # sent to the pool, in arrival order
        self._chunks: list[list[_Pending]] = [[] for _ in range(pool.size if pool else 0)]
        self._inflight: list[tuple[list[_Pending], Future[list[Outcome]]]] = []

    @property
    def keyring(self) -> KeyRing:
        """The registry's meters and keys (the maintenance loop swaps in a fresh one)."""
        return self._keyring

    @keyring.setter
    def keyring(self, keyring: KeyRing) -> None:
        self._keyring = keyring
        self.decoder.keys = keyring.lookup
        if self.pool is not None:
            self.pool.set_keys(keyring.keys)

    def add(self, msg: Message) -> None:
        """Parse one message into the current batch (with a pool, its frames start decoding)."""
        self.batch.messages.append(msg)
        if len(msg.payload) > MAX_MESSAGE_BYTES:
            return self._dead(msg, "too_large", f"{len(msg.payload)} bytes > {MAX_MESSAGE_BYTES}")
        try:
            _, frames = decode_frames(msg.payload)
        except WireError as exc:
            return self._dead(msg, dead_reason(msg.payload, exc), str(exc))
        self.batch.counts["frames_in"] += len(frames)
        for frame in frames:
            self._frame(frame)
        if self.pool is not None:
            for process, chunk in enumerate(self._chunks):
                if chunk:
                    self._inflight.append((chunk, self.pool.submit(process, [p.frame.payload for p in chunk])))
                    self._chunks[process] = []
        return None

    def take(self) -> Batch:
        """The finished batch (waiting for the pool's outcomes, applied in arrival order); a new one starts."""
        if self._inflight:
            outcomes: dict[int, Outcome] = {}
            for chunk, future in self._inflight:
                payloads = [p.frame.payload for p in chunk]
                outcomes.update(zip(map(id, chunk), resolve(future, payloads, self._decode_here), strict=True))
            for p in self._waiting:
                self._apply(p, outcomes[id(p)])
            self._inflight, self._waiting = [], []
        batch, self.batch = self.batch, Batch()
        return batch

    def _dead(self, msg: Message, reason: str, detail: str) -> None:
        self.batch.counts[f"dead:{reason}"] += 1
        self.batch.dead.append(DeadLetter(digest=hashlib.blake2b(msg.payload, digest_size=16).digest(),
                                          topic=msg.topic, reason=reason, detail=detail[:1000],
                                          payload=msg.payload, seen_at=msg.arrived_at))

    def _frame(self, frame: RawFrame) -> None:
        digest = hashlib.blake2b(frame.payload, digest_size=8).digest()
        pending = self.batch.frames.get(digest)
        if pending is not None or self.frames_seen.get(digest, frame.received_at):
            self.batch.counts["duplicates"] += 1
            if pending is not None:
                pending.gateways.append(frame.source)
                pending.rssi.append(frame.rssi_dbm)
                pending.heard.append(frame.received_at)
            else:  # first heard in an earlier batch: the merge appends this reception to the stored frame
                self.batch.extra_receptions.append(StoredFrame(
                    received_at=frame.received_at, frame_digest=digest, payload=frame.payload,
                    status=FrameStatus.DECODED, gateways=(frame.source,), rssi_dbm=(frame.rssi_dbm,),
                    heard_at=(frame.received_at,)))
            return
        self.frames_seen.add(digest, frame.received_at)
        pending = _Pending(frame, digest, [frame.source], [frame.rssi_dbm], [frame.received_at])
        self.batch.frames[digest] = pending
        if self.pool is None:
            self._apply(pending, self._decode_here(frame.payload))
        else:
            self._waiting.append(pending)
            self._chunks[self.pool.route(frame.payload)].append(pending)

    def _decode_here(self, payload: bytes) -> Outcome:
        return decode_outcome(self.decoder, payload)

    def _apply(self, p: _Pending, outcome: Outcome) -> None:
        link = _link_address(p.frame.payload[:10]) if len(p.frame.payload) >= 10 else None
        p.link_key = _meter_key(*link) if link else None
        if isinstance(outcome, Failed):
            known = link is not None and self.keyring.knows(*link)
            status = _FAILED_STATUS[outcome.kind] if known or outcome.kind == "error" else FrameStatus.UNKNOWN_METER
            return self._undecoded(p, status, outcome.message)
        p.meter_key = _meter_key(outcome.manufacturer, outcome.meter_id)
        if not self.keyring.knows(outcome.manufacturer, outcome.meter_id):
            return self._undecoded(p, FrameStatus.UNKNOWN_METER, None)
        tkey = (p.meter_key, outcome.access_number, outcome.payload_digest)
        if self.telegrams_seen.get(tkey, p.frame.received_at):
            self.batch.counts["duplicates"] += 1  # a repeater's copy: the frame is kept, no second reading
            return None
        self.telegrams_seen.add(tkey, p.frame.received_at)
        self.batch.counts["decoded"] += 1
        self.batch.readings.append(to_reading(outcome, p.frame))
        return None

    def _undecoded(self, p: _Pending, status: FrameStatus, error: str | None) -> None:
        p.status = status
        p.error = None if error is None else error[:500]
        self.batch.counts[f"undecoded:{status.name.lower()}"] += 1


# meters repeat all day: their address and key are computed once (bounded caches, pure functions)
_link_address = functools.lru_cache(maxsize=1 << 17)(link_address)
_meter_key = functools.lru_cache(maxsize=1 << 17)(meter_key)
_FAILED_STATUS = {"key_missing": FrameStatus.KEY_MISSING, "wrong_key": FrameStatus.WRONG_KEY,
                  "error": FrameStatus.DECODE_ERROR}


def to_reading(t: Telegram | Decoded, frame: RawFrame) -> Reading:
    """A decoded telegram as a reading measured when its frame was first heard."""
    return Reading(meter_id=t.meter_id, manufacturer=t.manufacturer, measured_at=frame.received_at,
                   received_at=frame.received_at, total_m3=t.total_m3,
                   source=ReadingSource.DRIVEBY if frame.position is not None else ReadingSource.RADIO,
                   target_m3=t.target_m3, target_date=t.target_date, backward_m3=t.total_backward_m3,
                   flow_m3h=t.flow_m3h, alarms=t.alarms, access_number=t.access_number)
