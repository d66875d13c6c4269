"""NMEA 0183 GPS (GGA, RMC) for tagging frames with a position. Fact sheet §6.

Sentence: ``$`` talker(2) id(3) ``,``fields… ``*`` checksum(2 hex, XOR of the characters between ``$`` and
``*``) CRLF. GGA field 6 = fix quality (0 = invalid); RMC field 2 = status (``A`` valid, ``V`` warning).

:class:`GpsTracker` keeps the latest fix and answers :meth:`GpsTracker.position_for` only when that fix is
valid *and* fresh (received within ``max_age_s`` of the frame); an invalid sentence clears the fix, so a van
that loses the sky stops tagging instead of reusing an old position. :class:`GpsReader` is the serial loop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce

from core.types import Position
from hardware.lines import LineBuffer
from hardware.transport import IO_ERRORS, Transport, open_transport

log = logging.getLogger(__name__)

# Errors after which the GPS reader reopens its port (device gone or stream ended).
_RETRYABLE: tuple[type[BaseException], ...] = (*IO_ERRORS, EOFError)


@dataclass(frozen=True, slots=True)
class Fix:
    """One parsed GGA/RMC sentence."""

    kind: str  # "GGA" or "RMC"
    valid: bool
    lat: float | None = None
    lon: float | None = None
    fix_at: datetime | None = None
    hdop: float | None = None
    speed_kmh: float | None = None


def checksum(body: str) -> int:
    """XOR of the characters of ``body`` (between ``$`` and ``*``)."""
    return reduce(lambda a, c: a ^ ord(c), body, 0)


def sentence(body: str) -> str:
    """``body`` wrapped as a full sentence with its checksum (for simulators)."""
    return f"${body}*{checksum(body):02X}\r\n"


def _coord(value: str, hemi: str, degree_digits: int) -> float | None:
    if not value or hemi not in "NSEW" or not hemi:
        return None
    deg = int(value[:degree_digits]) + float(value[degree_digits:]) / 60
    return -deg if hemi in "SW" else deg


def _time(hhmmss: str, day: date) -> datetime | None:
    if len(hhmmss) < 6:
        return None
    secs = float(hhmmss[4:])
    base = datetime(day.year, day.month, day.day, int(hhmmss[:2]), int(hhmmss[2:4]), tzinfo=UTC)
    return base + timedelta(seconds=secs)


def parse_sentence(line: str, today: date | None = None) -> Fix | None:
    """A GGA/RMC sentence → :class:`Fix`; ``None`` for other sentences, bad checksums or malformed fields."""
    line = line.strip()
    if not line.startswith("$") or "*" not in line:
        return None
    body, _, check = line[1:].partition("*")
    try:
        if int(check[:2], 16) != checksum(body):
            return None
        fields = body.split(",")
        kind = fields[0][2:]
        day = today or datetime.now(UTC).date()
        if kind == "GGA" and len(fields) >= 9:
            return _gga(fields, day)
        if kind == "RMC" and len(fields) >= 10:
            return _rmc(fields, day)
    except (ValueError, IndexError):
        return None
    return None


def _gga(f: list[str], day: date) -> Fix:
    lat, lon = _coord(f[2], f[3], 2), _coord(f[4], f[5], 3)
    valid = bool(f[6]) and int(f[6]) >= 1 and lat is not None and lon is not None
    return Fix("GGA", valid, lat, lon, _time(f[1], day), float(f[8]) if f[8] else None)


def _rmc(f: list[str], day: date) -> Fix:
    if len(f[9]) == 6:
        yy = int(f[9][4:])
        day = date((1900 if yy >= 80 else 2000) + yy, int(f[9][2:4]), int(f[9][:2]))
    lat, lon = _coord(f[3], f[4], 2), _coord(f[5], f[6], 3)
    valid = f[2] == "A" and lat is not None and lon is not None
    speed = float(f[7]) * 1.852 if f[7] else None
    return Fix("RMC", valid, lat, lon, _time(f[1], day), speed_kmh=speed)


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """A valid fix with the local UTC time it was received (the GPS track of a drive-by)."""

    received_at: datetime
    position: Position


class GpsTracker:
    """Latest-fix state fed with sentences; thread-safe."""

    def __init__(self, max_age_s: float = 5.0) -> None:
        self.max_age_s = max_age_s
        self.sentences = 0
        self.bad = 0
        self.track: list[TrackPoint] = []
        self._latest: TrackPoint | None = None
        self._hdop: float | None = None
        self._lock = threading.Lock()
        self._lines = LineBuffer()

    def feed(self, data: bytes, received_at: datetime | None = None) -> None:
        """Consume NMEA bytes (any split)."""
        for line in self._lines.feed(data):
            self.update(line, received_at or datetime.now(UTC))

    def update(self, line: str, received_at: datetime) -> None:
        """Apply one sentence received at ``received_at``."""
        fix = parse_sentence(line, received_at.date())
        if fix is None:
            self.bad += line.startswith("$")
            return
        self.sentences += 1
        with self._lock:
            if not fix.valid:
                self._latest = None
                return
            if fix.hdop is not None:
                self._hdop = fix.hdop
            assert fix.lat is not None and fix.lon is not None
            pos = Position(lat=fix.lat, lon=fix.lon, fix_at=fix.fix_at, hdop=self._hdop)
            self._latest = TrackPoint(received_at, pos)
            if not self.track or self.track[-1].position.fix_at != pos.fix_at:
                self.track.append(self._latest)

    def position_for(self, at: datetime) -> Position | None:
        """The current position if the fix is valid and within ``max_age_s`` of ``at``."""
        with self._lock:
            latest = self._latest
        if latest is None or abs((at - latest.received_at).total_seconds()) > self.max_age_s:
            return None
        return latest.position


class GpsReader:
    """Reads a serial NMEA GPS into a :class:`GpsTracker` in a background thread, reconnecting on errors."""

    def __init__(self, port: str, *, baudrate: int = 9600, tracker: GpsTracker | None = None,
                 backoff_max_s: float = 10.0) -> None:
        self.port, self.baudrate, self.backoff_max_s = port, baudrate, backoff_max_s
        self.tracker = tracker or GpsTracker()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gps", daemon=True)

    def start(self) -> GpsReader:
        """Start reading."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                transport = open_transport(self.port, self.baudrate)
                try:
                    self._read(transport)
                finally:
                    transport.close()
                delay = 0.2
            except _RETRYABLE as exc:
                log.warning("GPS on %s: %s; retrying in %.1f s", self.port, exc, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max_s)

    def _read(self, transport: Transport) -> None:
        while not self._stop.is_set():
            data = transport.read(0.2)
            if data:
                self.tracker.feed(data)
