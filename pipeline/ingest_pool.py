"""Decoding frames in worker processes, so one ingest worker can use more than one core.

Each decode process has a pipe of its own (a socket pair), and the parent chooses where a frame goes: by
its link address, so the frames of one meter always meet the same :class:`decoders.Decoder` (its compact
formats, learnt from that meter's full frames, are where its compact frames are decoded). A process answers
its chunks in order, so a key-ring update sent before a chunk is in force for that chunk.

No ``ProcessPoolExecutor``: its manager and queue-feeder threads spent about as much of the worker's GIL as
the batch thread itself (pickling work items and results one more time, waking each other through a pipe
that could fill), and a GIL-bound worker is what limits ingest once decoding has moved out. Here the batch
thread writes a chunk straight into the pipe and reads the answers back when it needs them. At most
:data:`WINDOW` chunks of at most :data:`CHUNK` frames are unanswered per process, so the answers always fit
in the socket buffer: neither side can block the other for good.

Frames travel as bytes, results come back as :data:`Outcome` tuples: for a decoded frame a plain tuple of
what its reading row needs, already computed here (meter key, access number, alarm mask), not the whole
:class:`decoders.Telegram` nor a named tuple of enums and strings, which keeps pickling and the parent's work
per frame small. The parent applies outcomes in arrival order, so deduplication is the same as decoding
in-process. A process that dies is replaced; its unanswered chunks are decoded in the parent.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date
from multiprocessing.connection import Connection
from typing import NamedTuple

from core.ids import meter_key, split_meter_key
from core.types import alarm_mask
from decoders import CipherCache, DecodeError, Decoder, KeyMissingError, WrongKeyError
from storage.registry import KeyRing
from storage.writer import NO_ACCESS_NUMBER

KeyMap = dict[tuple[str, str], tuple[bytes, ...]]
Identity = int | tuple[str, str]  # see meter_identity()

# A decoded frame: (identity, access number or NO_ACCESS_NUMBER, payload digest, total_m3, target_m3, target_date,
# total_backward_m3, flow_m3h, alarm mask), in the order and form the worker's reading row and dedupe key take.
Decoded = tuple[Identity, int, bytes, float | None, float | None, date | None, float | None, float | None, int]


@functools.lru_cache(maxsize=1 << 17)
def meter_identity(manufacturer: str, meter_id: str) -> Identity:
    """What stands for a meter in registry checks: its meter key, or ``(manufacturer, upper-case meter_id)``
    when the key does not spell these strings (letters no key has, an id that is not 8 hex digits).

    The registry matches manufacturer and upper-case id as strings (``KeyRing.knows``); keys are cheaper to
    send and to look up, and this keeps the match exact: two identities are equal exactly when both strings
    are, ids compared in upper case (the decoders print a non-BCD id in lower case).
    """
    upper = meter_id.upper()
    try:
        key = meter_key(manufacturer, meter_id)
    except ValueError:
        return (manufacturer, upper)
    return key if split_meter_key(key) == (manufacturer, upper) else (manufacturer, upper)


def known_identities(meters: Iterable[tuple[str, str]]) -> frozenset[Identity]:
    """The identities of registered meters: ``meter_identity(m, i) in known_identities(…)`` is ``(m, i) in …``."""
    return frozenset(meter_identity.__wrapped__(m, i) for m, i in meters)  # not through the bounded cache


class Failed(NamedTuple):
    """A frame that did not decode: ``kind`` is ``key_missing``, ``wrong_key`` or ``error``; ``identity`` is
    the meter's (:func:`meter_identity` of the TPL long header's address when the frame has one — a radio
    module or repeater may sit in front of the meter — else of the link address), None when decoding stopped
    before any address."""

    kind: str
    message: str
    identity: Identity | None = None


Outcome = Decoded | Failed


def decode_outcome(decoder: Decoder, payload: bytes) -> Outcome:
    """Decode one frame into an :data:`Outcome` (never raises for bad frames)."""
    try:
        t = decoder.decode(payload)
    except DecodeError as exc:
        kind = "key_missing" if isinstance(exc, KeyMissingError) else "wrong_key" \
            if isinstance(exc, WrongKeyError) else "error"
        manufacturer, meter_id = exc.manufacturer, exc.meter_id
        return Failed(kind, f"{getattr(exc, 'layer', 'decoder')}: {exc}",
                      None if manufacturer is None or meter_id is None else meter_identity(manufacturer, meter_id))
    return (meter_identity(t.manufacturer, t.meter_id), NO_ACCESS_NUMBER if t.access_number is None else
            t.access_number, t.payload_digest, t.total_m3, t.target_m3, t.target_date, t.total_backward_m3,
            t.flow_m3h, _alarm_mask(t.alarms) if t.alarms else 0)


_alarm_mask = functools.lru_cache(maxsize=4096)(alarm_mask)


GC_GEN0_THRESHOLD = 10_000


def collect_garbage_less_often() -> None:
    """Raise CPython's young-generation threshold (700 allocations by default) for this process.

    The ingest worker and the decode processes allocate a handful of short-lived, acyclic objects per frame,
    so the default runs a collection every few dozen frames; measured in the worker on a 2,000-frame batch
    without decoding, 12.7 µs → 9.4 µs per frame. What start-up allocated (modules, settings) is frozen out of
    every later collection.
    """
    gc.collect()  # what is garbage now must not be frozen (it would never be collected)
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)


# --- inside a decode process ----------------------------------------------------------------------------

def _serve(conn: Connection) -> None:
    """A decode process: ``("keys", KeyMap)`` replaces the key ring, ``("decode", [frame, …])`` is answered
    with the outcomes; the parent closing the pipe ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    collect_garbage_less_often()
    decoder = Decoder(None, ciphers=CipherCache(max_size=1 << 16))
    while True:
        try:
            kind, body = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "keys":
            decoder.keys = KeyRing(frozenset(), body).lookup  # the registry's own look-up (ids in upper case)
        else:
            conn.send([decode_outcome(decoder, p) for p in body])


# --- in the ingest worker ---------------------------------------------------------------------------------

CHUNK = 256  # frames per request at most
WINDOW = 8  # unanswered requests per process at most (≈ 8 × 256 × 80 bytes of answers: within the buffer)


class Ticket:
    """The outcomes of one :meth:`DecodePool.submit`, read back by :meth:`DecodePool.resolve`."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[_Process, _Part]] = []


class _Part:
    """One request: its frames, and its outcomes once answered (``failed``: its process died first)."""

    __slots__ = ("failed", "payloads", "result")

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.result: list[Outcome] | None = None
        self.failed = False


class _Process:
    """One decode process and its unanswered requests (oldest first)."""

    def __init__(self, context: multiprocessing.context.SpawnContext) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child,), name="odczyt-decode", daemon=True)
        self.process.start()
        child.close()
        self.waiting: deque[_Part] = deque()
        self.keys_version = -1
        self.broken = False

    def send(self, message: tuple[str, object]) -> bool:
        try:
            self.conn.send(message)
        except OSError:
            self.fail()
            return False
        return True

    def read_one(self) -> None:
        """Wait for the answer to the oldest unanswered request."""
        part = self.waiting[0]
        try:
            part.result = self.conn.recv()
        except (EOFError, OSError):
            self.fail()
        else:
            self.waiting.popleft()

    def fail(self) -> None:
        """The process died: what it did not answer is decoded by the parent; submit() starts a new one."""
        self.broken = True
        for part in self.waiting:
            part.failed = True
        self.waiting.clear()

    def close(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class DecodePool:
    """``processes`` decode processes; :meth:`submit` routes a chunk of frames by link address.

    Used from one thread (the batch thread); :meth:`set_keys` may be called from another: the new key ring is
    sent by the next :meth:`submit`.
    """

    def __init__(self, processes: int, keys: KeyMap) -> None:
        self._context = multiprocessing.get_context("spawn")  # the worker has threads: no fork
        self._keys, self._keys_version = keys, 0
        self._processes = [_Process(self._context) for _ in range(processes)]
        for k in range(processes):  # wait for the processes to start (spawn imports the decoders: ~1 s)
            self.resolve(self.submit(k, []), lambda p: Failed("error", "unreachable"))

    @property
    def size(self) -> int:
        return len(self._processes)

    def set_keys(self, keys: KeyMap) -> None:
        """Use ``keys`` for every chunk submitted from now on (sent to the processes only when it changed: the
        worker reloads the registry every 30 s, and a utility's key ring pickles to megabytes)."""
        if keys == self._keys:
            return
        self._keys, self._keys_version = keys, self._keys_version + 1

    def route(self, payload: bytes) -> int:
        """The process that decodes frames with this payload's link address."""
        return hash(payload[2:8]) % len(self._processes)

    def submit(self, process: int, payloads: list[bytes]) -> Ticket:
        """Send ``payloads`` to process ``process`` (a dead process is replaced first)."""
        proc = self._processes[process]
        if proc.broken:
            proc.close()
            proc = self._processes[process] = _Process(self._context)
        ticket = Ticket()
        for i in range(0, max(len(payloads), 1), CHUNK):
            part = _Part(payloads[i:i + CHUNK])
            ticket.parts.append((proc, part))
            while len(proc.waiting) >= WINDOW and not proc.broken:
                proc.read_one()
            if proc.keys_version != self._keys_version and not proc.broken:
                version = self._keys_version
                if proc.send(("keys", self._keys)):
                    proc.keys_version = version
            if proc.broken or not proc.send(("decode", part.payloads)):
                part.failed = True
                continue
            proc.waiting.append(part)
        return ticket

    def resolve(self, ticket: Ticket, fallback: Callable[[bytes], Outcome]) -> list[Outcome]:
        """The ticket's outcomes, in order; decoded here by ``fallback`` where its process died."""
        out: list[Outcome] = []
        for proc, part in ticket.parts:
            while part.result is None and not part.failed:
                proc.read_one()
            out.extend(part.result if part.result is not None else [fallback(p) for p in part.payloads])
        return out

    def close(self) -> None:
        for proc in self._processes:
            proc.close()
