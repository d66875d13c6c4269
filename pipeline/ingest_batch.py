"""One ingest batch: MQTT messages in, readings/raw frames/dead letters out (no I/O here).

Poison messages (too large, not JSON, bad hex, wrong schema) become dead letters. Each frame is deduplicated
by its bytes (another gateway's copy: the reception is appended to the frame) and, once decoded, by
(meter, access number, payload digest) (a repeater's copy: kept as a frame, no second reading). Frames that
cannot be decoded yet — unknown meter, missing or wrong key, decoder error — are kept with their status for
``odczyt redecode``. A reading's ``measured_at`` is the first reception time of its telegram.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b

from core.ids import manufacturer_letters, meter_key
from core.types import SOURCE_CODES, Reading, ReadingSource
from core.wire import FrameItem
from core.wire_frames import MessageRejected, clean_text, decode_lenient, sent_at_of
from decoders import CipherCache, Decoder, Telegram
from pipeline.dedupe import WindowSet
from pipeline.ingest_pool import CHUNK, DecodePool, Failed, Outcome, Ticket, decode_outcome, known_identities
from storage.registry import KeyRing
from storage.rows import DeadLetter, FrameStatus


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as the paho callback queued it (``generation`` = the connection it arrived on)."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    arrived_at: datetime


class _Pending:
    """A distinct frame of the batch and every reception of it so far."""

    __slots__ = (
        "digest",
        "error",
        "gateways",
        "heard",
        "link_key",
        "link_mode",
        "meter_key",
        "outcome",
        "payload",
        "position",
        "received_at",
        "rssi",
        "status",
    )

    def __init__(self, item: FrameItem, gateway: str, digest: bytes) -> None:
        self.payload, self.received_at, rssi, self.link_mode, self.position = item
        self.digest = digest
        self.gateways, self.rssi, self.heard = [gateway], [rssi], [self.received_at]
        self.status = _DECODED
        self.error: str | None = None
        self.link_key: int | None = None
        self.meter_key: int | None = None
        self.outcome: Outcome | None = None  # while its batch waits for the pool

    def row(self) -> tuple[object, ...]:
        """This frame as a ``raw_frames`` row (``storage.writer.FRAME_COLUMNS``)."""
        decoded = self.meter_key is not None and self.status == _DECODED
        pos = self.position
        return (self.received_at, self.digest, self.link_key, self.meter_key, self.payload, self.status, self.error,
                self.link_mode, self.gateways, self.rssi, self.heard, pos.lat if pos else None,
                pos.lon if pos else None, self.received_at if decoded else None)


@dataclass
class Batch:
    """What a batch holds so far; :meth:`BatchBuilder.take` hands it to the writer.

    Readings and frames are kept as table rows (``storage.writer.READING_COLUMNS`` / ``FRAME_COLUMNS``), the
    form :func:`storage.writer.write_rows` takes.
    """

    messages: list[Message] = field(default_factory=list)
    frames: dict[bytes, _Pending] = field(default_factory=dict)
    extra_receptions: list[tuple[object, ...]] = field(default_factory=list)
    reading_rows: list[tuple[object, ...]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # (meter_key, measured_at) of a reading row -> (meter_key, access number, payload digest): storage/telegrams.py
    telegram_ids: dict[tuple[object, object], tuple[int, int, bytes]] = field(default_factory=dict)
    clock_skew: dict[str, float] = field(default_factory=dict)  # gateway -> arrival minus its sent_at, seconds

    def frame_rows(self) -> list[tuple[object, ...]]:
        return [p.row() for p in self.frames.values()] + self.extra_receptions

    @property
    def size(self) -> int:
        return len(self.frames) + len(self.extra_receptions) + len(self.dead)


def link_address(payload: bytes) -> tuple[str, str] | None:
    """Manufacturer and id of the DLL address (a repeater's or radio converter's, possibly)."""
    if len(payload) < 10:
        return None
    try:
        return manufacturer_letters(int.from_bytes(payload[2:4], "little")), payload[4:8][::-1].hex().upper()
    except ValueError:
        return None


@dataclass
class Decoding:
    """A detached batch whose frames may still be decoding (:meth:`BatchBuilder.detach`)."""

    batch: Batch
    waiting: list[_Pending]  # sent to the pool, in arrival order
    inflight: list[tuple[list[_Pending], Ticket]]


class BatchBuilder:
    """Turns messages into batch content, keeping the per-worker dedupe windows across batches."""

    def __init__(self, *, keyring: KeyRing, dedupe_window_s: float, pool: DecodePool | None = None) -> None:
        # one decoder for the worker's life: compact formats learnt and per-key AES contexts are kept
        self.decoder = Decoder(keyring.lookup, ciphers=CipherCache(max_size=1 << 16))
        self.pool = pool
        self._keyring = keyring
        self._known = known_identities(keyring.meters)  # KeyRing.knows() as a set of meter_identity() values
        self.frames_seen = WindowSet(dedupe_window_s)
        self.telegrams_seen = WindowSet(dedupe_window_s)
        self.batch = Batch()
        self._waiting: list[_Pending] = []  # sent to the pool, in arrival order
        self._chunks: list[list[_Pending]] = [[] for _ in range(pool.size if pool else 0)]
        self._inflight: list[tuple[list[_Pending], Ticket]] = []

    @property
    def keyring(self) -> KeyRing:
        """The registry's meters and keys (the maintenance loop swaps in a fresh one)."""
        return self._keyring

    @keyring.setter
    def keyring(self, keyring: KeyRing) -> None:
        if keyring.meters != self._keyring.meters:  # the registry is reloaded every 30 s, and rarely changes
            self._known = known_identities(keyring.meters)
        self._keyring = keyring
        self.decoder.keys = keyring.lookup
        if self.pool is not None:
            self.pool.set_keys(keyring.keys)

    def add(self, msg: Message) -> None:
        """Parse one message into the current batch (with a pool, its frames start decoding)."""
        self.batch.messages.append(msg)
        try:  # limits before parsing; a bad frame is refused on its own, its neighbours go on
            gateway, items, rejected = decode_lenient(msg.payload, msg.arrived_at)
        except MessageRejected as exc:
            return self._dead(msg, exc.reason, str(exc))
        except Exception as exc:  # a bug must not stop the batch thread: the message is kept as a dead letter
            return self._dead(msg, "internal", f"{type(exc).__name__}: {exc}")
        self.batch.counts["frames_in"] += len(items) + len(rejected)
        sent_at = sent_at_of(msg.payload)
        if sent_at is not None:  # the gateway's clock against ours (plus the broker's delay)
            self.batch.clock_skew[gateway] = (msg.arrived_at - sent_at).total_seconds()
        for bad in rejected:
            self._dead(msg, bad.reason, bad.detail, bad.payload)
        try:
            for item in items:
                self._frame(item, gateway)
        except Exception as exc:  # a bug must not stop the batch thread: the message is kept as a dead letter
            return self._dead(msg, "internal", f"{type(exc).__name__}: {exc}")
        return None

    def quarantine(self, msg: Message, detail: str) -> None:
        """Keep ``msg`` as a dead letter unparsed (it stopped the worker before: pipeline/ingest_poison.py)."""
        self.batch.messages.append(msg)
        self._dead(msg, "quarantined", detail)

    def detach(self) -> Decoding:
        """End the current batch without waiting for its decoding (see :meth:`finish`); a new one starts.

        The worker detaches batch N+1 and only then finishes batch N, so the decode processes are never
        left without work while the worker applies N's outcomes.
        """
        for process, chunk in enumerate(self._chunks):
            if chunk:
                self._submit(process)
        decoding = Decoding(self.batch, self._waiting, self._inflight)
        self.batch, self._waiting, self._inflight = Batch(), [], []
        return decoding

    def finish(self, decoding: Decoding) -> Batch:
        """The detached batch, complete: its pool outcomes waited for and applied in arrival order.

        Batches must be finished in the order they were detached (telegram dedupe follows arrival order).
        """
        if decoding.inflight:
            assert self.pool is not None
            for chunk, ticket in decoding.inflight:
                for p, answer in zip(chunk, self.pool.resolve(ticket, self._decode_here), strict=True):
                    p.outcome = answer
            for p in decoding.waiting:
                outcome, p.outcome = p.outcome, None
                assert outcome is not None
                try:
                    self._apply(decoding.batch, p, outcome)
                except Exception as exc:  # a bug must not stop the batch thread: the frame is kept, marked
                    _internal_error(decoding.batch, p, exc)
        if decoding.batch.reading_rows:  # a reading row per decoded telegram: counted here, not per frame
            decoding.batch.counts["decoded"] = len(decoding.batch.reading_rows)
        return decoding.batch

    def take(self) -> Batch:
        """The finished batch (waiting for the pool's outcomes, applied in arrival order); a new one starts."""
        return self.finish(self.detach())

    def _dead(self, msg: Message, reason: str, detail: str, payload: bytes | None = None) -> None:
        """Keep ``msg`` (or just one of its frames, ``payload``) as a dead letter."""
        kept = msg.payload if payload is None else payload
        self.batch.counts[f"dead:{reason}"] += 1
        self.batch.dead.append(DeadLetter(digest=blake2b(kept, digest_size=16).digest(),
                                          topic=clean_text(msg.topic), reason=reason,
                                          detail=clean_text(detail)[:1000], payload=kept, seen_at=msg.arrived_at))

    def _frame(self, item: FrameItem, gateway: str) -> None:
        payload, received_at = item[0], item[1]
        hasher = _FRAME_HASH.copy()  # a copy skips blake2b()'s argument parsing: a quarter fewer instructions
        hasher.update(payload)
        digest = hasher.digest()
        pending = self.batch.frames.get(digest)
        if pending is not None or not self.frames_seen.add_new(digest, received_at):
            self.batch.counts["duplicates"] += 1
            if pending is not None:
                pending.gateways.append(gateway)
                pending.rssi.append(item[2])
                pending.heard.append(received_at)
            else:  # first heard in an earlier batch: the merge appends this reception to the stored frame
                self.batch.extra_receptions.append(_Pending(item, gateway, digest).row())
            return
        pending = _Pending(item, gateway, digest)
        self.batch.frames[digest] = pending
        if self.pool is None:
            try:
                self._apply(self.batch, pending, self._decode_here(payload))
            except Exception as exc:  # as in finish()
                _internal_error(self.batch, pending, exc)
        else:
            self._waiting.append(pending)
            process = self.pool.route(payload) if len(self._chunks) > 1 else 0
            chunk = self._chunks[process]
            chunk.append(pending)
            if len(chunk) >= CHUNK:
                self._submit(process)

    def _submit(self, process: int) -> None:
        """Send the frames gathered for ``process`` (a full chunk, or what :meth:`detach` finds): one request
        per chunk, not per message, costs both sides less."""
        assert self.pool is not None
        chunk, self._chunks[process] = self._chunks[process], []
        self._inflight.append((chunk, self.pool.submit(process, [p.payload for p in chunk])))

    def _decode_here(self, payload: bytes) -> Outcome:
        return decode_outcome(self.decoder, payload)

    def _apply(self, batch: Batch, p: _Pending, outcome: Outcome) -> None:
        payload = p.payload
        link_key = p.link_key = _link_key(payload[:10]) if len(payload) >= 10 else None
        if isinstance(outcome, Failed):
            failed = outcome.identity  # the meter's (TPL address when the frame has a long header), if it got that far
            if failed is None:
                known = link_key is not None and link_key in self._known  # spelt as a key spells it
            else:
                known = failed in self._known
                p.meter_key = failed if type(failed) is int else meter_key_or_none(*failed)  # type: ignore[misc]
            status = _FAILED_STATUS[outcome.kind] if known or outcome.kind == "error" else FrameStatus.UNKNOWN_METER
            return _undecoded(batch, p, status, outcome.message)
        identity, access_number, digest, total, target, target_date, backward, flow, alarms = outcome
        key = p.meter_key = identity if type(identity) is int else meter_key_or_none(*identity)  # type: ignore[misc]
        if identity not in self._known or key is None:
            return _undecoded(batch, p, FrameStatus.UNKNOWN_METER, None if key is not None else
                              f"no meter key for manufacturer {identity[0]!r} id {identity[1]!r}")  # type: ignore[index]
        at = p.received_at
        if not self.telegrams_seen.add_new((key, access_number, digest), at):
            batch.counts["duplicates"] += 1  # a repeater's copy: the frame is kept, no second reading
            return None
        batch.reading_rows.append((key, at, at, total, target, target_date, backward, flow, alarms,
                                   _DRIVEBY if p.position else _RADIO, access_number))
        if access_number >= 0 and digest:
            batch.telegram_ids[(key, at)] = (key, access_number, digest)
        return None


def _undecoded(batch: Batch, p: _Pending, status: FrameStatus, error: str | None) -> None:
    p.status = status
    p.error = None if error is None else error[:500]
    batch.counts[f"undecoded:{status.name.lower()}"] += 1


def _internal_error(batch: Batch, p: _Pending, exc: Exception) -> None:
    p.meter_key = None
    _undecoded(batch, p, FrameStatus.DECODE_ERROR, f"internal: {type(exc).__name__}: {exc}")


def meter_key_or_none(manufacturer: str, meter_id: str) -> int | None:
    """The meter key, or None where there is none (an M-field no three letters spell, such as 0x0000, or an id
    that is not 8 hex digits): such a frame is kept and counted, never a crash of the batch thread."""
    try:
        return meter_key(manufacturer, meter_id)
    except ValueError:
        return None


def _link_key_of(head: bytes) -> int | None:
    """The meter key of a frame's DLL address (``head``: its first 10 bytes)."""
    link = link_address(head)
    return meter_key_or_none(*link) if link else None


# meters repeat all day: their address and key are computed once (bounded caches, pure functions)
_link_key = functools.lru_cache(maxsize=1 << 17)(_link_key_of)
_RADIO, _DRIVEBY = SOURCE_CODES[ReadingSource.RADIO], SOURCE_CODES[ReadingSource.DRIVEBY]
_DECODED = FrameStatus.DECODED  # an enum member read through its class costs ~0.2 µs, a global far less
_FRAME_HASH = blake2b(digest_size=8)  # a frame's digest: blake2b-8 of its bytes
_FAILED_STATUS = {"key_missing": FrameStatus.KEY_MISSING, "wrong_key": FrameStatus.WRONG_KEY,
                  "error": FrameStatus.DECODE_ERROR}


def to_reading(t: Telegram, received_at: datetime, *, driveby: bool = False) -> Reading:
    """A decoded telegram as a reading measured when its frame was first heard (by a drive-by crew or not)."""
    return Reading(meter_id=t.meter_id, manufacturer=t.manufacturer, measured_at=received_at,
                   received_at=received_at, total_m3=t.total_m3,
                   source=ReadingSource.DRIVEBY if driveby else ReadingSource.RADIO,
                   target_m3=t.target_m3, target_date=t.target_date, backward_m3=t.total_backward_m3,
                   flow_m3h=t.flow_m3h, alarms=t.alarms, access_number=t.access_number)
