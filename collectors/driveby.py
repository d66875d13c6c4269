"""Drive-by crew tool: read the meters of a route from a moving van, offline first, upload later.

:class:`DrivebySession` takes frames (from a receiver), tags them with the GPS position when the fix is valid
and fresh, identifies the meter — by edge decoding with the route's own keys (``decoders.decode``) or, when
that fails, from the link-layer header — and stores everything in a :class:`DrivebyStore` before anything
else. :func:`sync` uploads unsent frames to MQTT at QoS 1 and marks each one sent only when the broker
acknowledged it, so running it again sends nothing twice that the server already has.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from collectors.driveby_store import DrivebyStore
from collectors.linklayer import link_identity
from collectors.mqtt import MqttLink, MqttTarget
from collectors.route import Route
from core.types import RawFrame
from core.wire import encode_frames
from hardware.nmea import GpsTracker
from hardware.receiver import Receiver

log = logging.getLogger(__name__)

try:  # edge decoding is optional: the van still works with link-layer ids only
    from decoders import DecodeError, decode, static_keys
except ImportError:  # pragma: no cover - decoders not installed
    decode = None  # type: ignore[assignment]


@dataclass(frozen=True)
class HeardMeter:
    """One frame as the crew sees it."""

    meter_id: str
    manufacturer: str
    rssi_dbm: float | None
    at: datetime
    on_route: bool
    total_m3: float | None = None


@dataclass
class Progress:
    """Live counters for the crew's screen."""

    total: int
    read: set[str] = field(default_factory=set)
    strangers: set[str] = field(default_factory=set)
    frames: int = 0
    last: deque[HeardMeter] = field(default_factory=lambda: deque(maxlen=12))

    @property
    def unread(self) -> int:
        """Route meters not heard yet."""
        return self.total - len(self.read)


class DrivebySession:
    """One van, one route, one store."""

    def __init__(self, route: Route, store: DrivebyStore, *, gps: GpsTracker | None = None) -> None:
        self.route, self.store, self.gps = route, store, gps
        self.progress = Progress(total=len(route.meters))
        self._keys = static_keys(route.keys()) if decode is not None else None
        self._track_done = 0
        self._lock = threading.Lock()
        store.save_route(route)
        for meter_id, info in store.meters().items():  # resume a session
            (self.progress.read if info["on_route"] else self.progress.strangers).add(meter_id)

    def identify(self, payload: bytes) -> tuple[str, str, float | None]:
        """(meter id, manufacturer, total m³ if decoded) — edge decode first, link layer as fallback."""
        if decode is not None:
            try:
                telegram = decode(payload, self._keys)
                return telegram.meter_id.upper(), telegram.manufacturer, telegram.total_m3
            except DecodeError as exc:
                log.debug("edge decode failed (%s): using the link-layer id", exc)
        ident = link_identity(payload) or ("???", payload.hex()[:16].upper())
        return ident[1], ident[0], None

    def handle(self, frame: RawFrame) -> HeardMeter:
        """Tag, identify and store one frame; update the live progress."""
        if frame.position is None and self.gps is not None:
            pos = self.gps.position_for(frame.received_at)
            frame = dataclasses.replace(frame, position=pos) if pos else frame
        meter_id, manufacturer, total = self.identify(frame.payload)
        on_route = meter_id in self.route.ids()
        with self._lock:
            self.store.add_frame(frame, meter_id, manufacturer, total, on_route)
            self.progress.frames += 1
            (self.progress.read if on_route else self.progress.strangers).add(meter_id)
            heard = HeardMeter(meter_id, manufacturer, frame.rssi_dbm, frame.received_at, on_route, total)
            self.progress.last.appendleft(heard)
        return heard

    def save_track(self) -> None:
        """Copy new GPS track points into the store."""
        if self.gps is None:
            return
        new = self.gps.track[self._track_done :]
        self._track_done += len(new)
        self.store.add_track([(p.received_at, p.position.lat, p.position.lon) for p in new])

    def run(self, receiver: Receiver, stop: threading.Event, *, until_complete: bool = True) -> None:
        """Pump the receiver into the session until ``stop`` is set (or every route meter was read)."""
        while not stop.is_set():
            frame = receiver.get(0.2)
            if frame is not None:
                self.handle(frame)
            self.save_track()
            if until_complete and self.progress.unread == 0:
                break
        self.save_track()


@dataclass
class SyncResult:
    """What one ``sync`` did."""

    sent: int = 0  # frames acknowledged by the broker in this run
    already: int = 0  # frames acknowledged in earlier runs
    remaining: int = 0  # frames still unacknowledged (e.g. timeout)


def sync(store: DrivebyStore, target: MqttTarget, gateway_id: str, *, batch_frames: int = 200,
         max_inflight: int = 100, timeout_s: float = 120.0, topic_prefix: str = "odczyt/v1") -> SyncResult:
    """Upload every unsent frame at QoS 1; mark frames sent only on the broker's acknowledgement."""
    total, already = store.counts()
    link = MqttLink(target, client_id=f"odczyt-driveby-{gateway_id}", max_inflight=max_inflight)
    link.start()
    deadline = time.monotonic() + timeout_s
    inflight: dict[int, list[int]] = {}
    cursor, sent = 0, 0
    try:
        while time.monotonic() < deadline:
            sent += _apply_acks(link, store, inflight)
            if not link.connected.wait(0.05):
                continue
            rows = store.unsent(batch_frames, cursor) if len(inflight) < max_inflight else []
            if rows:
                mid = link.publish(f"{topic_prefix}/frames/{gateway_id}",
                                   encode_frames(gateway_id, [f for _, f in rows]))
                if mid is not None:
                    inflight[mid] = [s for s, _ in rows]
                    cursor = rows[-1][0]
            elif not inflight:
                break
            else:
                time.sleep(0.01)
    finally:
        link.stop()
    return SyncResult(sent=sent, already=already, remaining=total - already - sent)


def _apply_acks(link: MqttLink, store: DrivebyStore, inflight: dict[int, list[int]]) -> int:
    done = 0
    while not link.acks.empty():
        mid, ok = link.acks.get()
        seqs = inflight.pop(mid, None)
        if seqs and ok:
            store.mark_sent(seqs)
            done += len(seqs)
    return done
