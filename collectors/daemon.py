"""``odczyt collect``: wire a receiver (and optionally a GPS) to a :class:`~collectors.gateway.Gateway` and run
until SIGTERM/SIGINT. Settings come from ``Settings.collector`` / ``Settings.mqtt``; CLI flags override them.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from collectors.gateway import Gateway
from collectors.mqtt import MqttTarget, redact_url
from core.settings import Settings
from core.types import RawFrame
from hardware import open_receiver
from hardware.nmea import GpsReader, GpsTracker
from hardware.receiver import Receiver

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class CollectOptions:
    """Everything ``odczyt collect`` needs, resolved from settings and flags."""

    gateway_id: str
    mqtt_url: str = dataclasses.field(repr=False)  # may carry a password
    spool_path: Path
    receiver: str | None
    port: str | None
    link_mode: str = "T1"
    baudrate: int | None = None
    batch_frames: int = 100
    batch_ms: int = 500
    heartbeat_s: float = 60.0
    silence_reset_s: float = 300.0
    dedupe_window_s: float = 30.0
    spool_max_frames: int = 5_000_000
    gps_port: str | None = None
    gps_max_age_s: float = 5.0
    protocol: str = "auto"
    spool_synchronous: str = "FULL"
    ack_timeout_s: float = 60.0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, gateway_id: str | None = None, mqtt_url: str | None = None,
        spool_path: Path | None = None, receiver: str | None = None, port: str | None = None,
        link_mode: str | None = None, baudrate: int | None = None, batch_frames: int | None = None,
        batch_ms: int | None = None, heartbeat_s: float | None = None, silence_reset_s: float | None = None,
        dedupe_window_s: float | None = None, spool_max_frames: int | None = None, gps_port: str | None = None,
        gps_max_age_s: float | None = None, protocol: str | None = None, spool_synchronous: str | None = None,
        ack_timeout_s: float | None = None,
    ) -> CollectOptions:
        """Defaults from ``Settings``; ``None`` overrides are ignored."""
        c = settings.collector
        return cls(
            gateway_id=_or(gateway_id, c.gateway_id),
            mqtt_url=_or(mqtt_url, settings.mqtt_url or "mqtt://127.0.0.1:1883"),
            spool_path=_or(spool_path, c.spool_path), receiver=_or(receiver, c.receiver), port=_or(port, c.port),
            link_mode=_or(link_mode, c.link_mode), baudrate=_or(baudrate, c.baudrate),
            batch_frames=_or(batch_frames, c.batch_frames), batch_ms=_or(batch_ms, c.batch_ms),
            heartbeat_s=_or(heartbeat_s, c.heartbeat_s), silence_reset_s=_or(silence_reset_s, c.silence_reset_s),
            dedupe_window_s=_or(dedupe_window_s, c.dedupe_window_s),
            spool_max_frames=_or(spool_max_frames, c.spool_max_frames), gps_port=_or(gps_port, c.gps_port),
            gps_max_age_s=_or(gps_max_age_s, c.gps_max_age_s), protocol=_or(protocol, c.mqtt_protocol),
            spool_synchronous=_or(spool_synchronous, c.spool_synchronous),
            ack_timeout_s=_or(ack_timeout_s, c.ack_timeout_s))


def _or(override: T | None, default: T) -> T:
    """``override`` unless it is None (a CLI flag left unset), else ``default``."""
    return default if override is None else override


def build(opts: CollectOptions, settings: Settings) -> tuple[Gateway, GpsReader | None]:
    """Create (not start) the gateway, its receiver and GPS reader."""
    receivers: list[Receiver] = []
    if opts.receiver and opts.port:
        receivers.append(open_receiver(opts.receiver, opts.port, link_mode=opts.link_mode,
                                       source=opts.gateway_id, baudrate=opts.baudrate,
                                       silence_reset_s=opts.silence_reset_s))
    gps = GpsReader(opts.gps_port, tracker=GpsTracker(opts.gps_max_age_s)) if opts.gps_port else None
    target = MqttTarget.from_url(opts.mqtt_url, settings.mqtt, protocol=opts.protocol)
    gateway = Gateway(opts.gateway_id, target, opts.spool_path, receivers=receivers,
                      batch_frames=opts.batch_frames, batch_ms=opts.batch_ms,
                      dedupe_window_s=opts.dedupe_window_s, max_inflight=settings.mqtt.max_inflight,
                      spool_max_frames=opts.spool_max_frames, heartbeat_s=opts.heartbeat_s,
                      topic_prefix=settings.mqtt.topic_prefix, spool_synchronous=opts.spool_synchronous,
                      ack_timeout_s=opts.ack_timeout_s, tagger=_tagger(gps) if gps else None,
                      hold_unrouted=settings.collector.hold_unrouted)
    return gateway, gps


def _tagger(gps: GpsReader):  # type: ignore[no-untyped-def]
    def tag(frame: RawFrame) -> RawFrame:
        pos = gps.tracker.position_for(frame.received_at)
        return dataclasses.replace(frame, position=pos) if pos else frame
    return tag


def run(opts: CollectOptions, settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the gateway until ``stop`` is set or SIGTERM/SIGINT arrives."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    gateway, gps = build(opts, settings)
    if gps:
        gps.start()
    gateway.start()
    log.info("gateway %s: receiver %s on %s (%s), spool %s, broker %s", opts.gateway_id, opts.receiver,
             opts.port, opts.link_mode, opts.spool_path, redact_url(opts.mqtt_url))
    try:
        stop.wait()
    finally:
        gateway.stop(drain_timeout_s=2.0)
        if gps:
            gps.stop()
