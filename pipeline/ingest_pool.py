"""Decoding frames in worker processes, so one ingest worker can use more than one core.

Each decode process is a single-process executor of its own, so the parent chooses where a frame goes: by
its link address, so the frames of one meter always meet the same :class:`decoders.Decoder` (its compact
formats, learnt from that meter's full frames, are where its compact frames are decoded). Tasks of one
executor run in order, so a key-ring update submitted before a chunk is in force for that chunk.

Frames travel as bytes, results come back as :class:`Outcome` tuples (a few fields, not the whole
:class:`decoders.Telegram`), which keeps pickling cheap. The key ring is sent once at start and on refresh.
The parent applies outcomes in arrival order, so deduplication is the same as decoding in-process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import NamedTuple

from core.types import Alarm
from decoders import CipherCache, DecodeError, Decoder, KeyMissingError, WrongKeyError

KeyMap = dict[tuple[str, str], tuple[bytes, ...]]


class Decoded(NamedTuple):
    """What the ingest keeps of a decoded telegram (attribute names as in :class:`decoders.Telegram`)."""

    manufacturer: str
    meter_id: str
    access_number: int | None
    payload_digest: bytes
    total_m3: float | None
    target_m3: float | None
    target_date: date | None
    total_backward_m3: float | None
    flow_m3h: float | None
    alarms: frozenset[Alarm]


class Failed(NamedTuple):
    """A frame that did not decode: ``kind`` is ``key_missing``, ``wrong_key`` or ``error``."""

    kind: str
    message: str


Outcome = Decoded | Failed


def decode_outcome(decoder: Decoder, payload: bytes) -> Outcome:
    """Decode one frame into an :data:`Outcome` (never raises for bad frames)."""
    try:
        t = decoder.decode(payload)
    except DecodeError as exc:
        kind = "key_missing" if isinstance(exc, KeyMissingError) else "wrong_key" \
            if isinstance(exc, WrongKeyError) else "error"
        return Failed(kind, f"{getattr(exc, 'layer', 'decoder')}: {exc}")
    return Decoded(t.manufacturer, t.meter_id, t.access_number, t.payload_digest, t.total_m3, t.target_m3,
                   t.target_date, t.total_backward_m3, t.flow_m3h, t.alarms)


# --- inside a decode process (its own decoder, set up by the first key-ring message) ----------------------

_decoder: Decoder | None = None


def _set_keys(keys: KeyMap) -> None:
    global _decoder
    if _decoder is None:
        _decoder = Decoder(None, ciphers=CipherCache(max_size=1 << 16))
    _decoder.keys = lambda manufacturer, meter_id: keys.get((manufacturer, meter_id), ())


def _decode_chunk(payloads: list[bytes]) -> list[Outcome]:
    assert _decoder is not None, "the key ring is sent before any frame"
    return [decode_outcome(_decoder, p) for p in payloads]


# --- in the ingest worker ---------------------------------------------------------------------------------

class DecodePool:
    """``processes`` decode processes; :meth:`submit` routes a chunk of frames by link address."""

    def __init__(self, processes: int, keys: KeyMap) -> None:
        self._context = multiprocessing.get_context("spawn")  # the worker has threads: no fork
        self._keys = keys
        self._executors = [self._executor() for _ in range(processes)]
        for ex in self._executors:  # wait for the processes to start (spawn imports the decoders: ~1 s)
            ex.submit(len, ()).result()

    @property
    def size(self) -> int:
        return len(self._executors)

    def _executor(self) -> ProcessPoolExecutor:
        ex = ProcessPoolExecutor(max_workers=1, mp_context=self._context)
        ex.submit(_set_keys, self._keys)
        return ex

    def set_keys(self, keys: KeyMap) -> None:
        """Use ``keys`` for every chunk submitted from now on."""
        self._keys = keys
        for ex in self._executors:
            ex.submit(_set_keys, keys)

    def route(self, payload: bytes) -> int:
        """The process that decodes frames with this payload's link address."""
        return hash(payload[2:8]) % len(self._executors)

    def submit(self, process: int, payloads: list[bytes]) -> Future[list[Outcome]]:
        """Decode ``payloads`` in process ``process``; a broken process is replaced first."""
        try:
            return self._executors[process].submit(_decode_chunk, payloads)
        except BrokenProcessPool:
            self._executors[process] = self._executor()
            return self._executors[process].submit(_decode_chunk, payloads)

    def close(self) -> None:
        for ex in self._executors:
            ex.shutdown(wait=True, cancel_futures=True)


def resolve(future: Future[list[Outcome]], payloads: Sequence[bytes],
            fallback: Callable[[bytes], Outcome]) -> list[Outcome]:
    """The chunk's outcomes; decoded in-process by ``fallback`` when its decode process died."""
    try:
        return future.result()
    except BrokenProcessPool:
        return [fallback(p) for p in payloads]
