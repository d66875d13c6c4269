"""NMEA GPS simulator over a pty: ``emit(lat, lon)`` writes a GGA and an RMC sentence for that position."""

from __future__ import annotations

from datetime import UTC, datetime

from hardware.nmea import sentence
from hardware.sim.base import PtySimulator


def _dm(value: float, degree_digits: int) -> str:
    deg = int(abs(value))
    minutes = (abs(value) - deg) * 60
    return f"{deg:0{degree_digits}d}{minutes:08.5f}"


def fix_sentences(lat: float | None, lon: float | None, when: datetime | None = None, *,
                  valid: bool = True, talker: str = "GN") -> bytes:
    """GGA + RMC for a position (or a no-fix pair when ``valid`` is false)."""
    when = when or datetime.now(UTC)
    hms = when.strftime("%H%M%S.") + f"{when.microsecond // 10000:02d}"
    dmy = when.strftime("%d%m%y")
    if not valid or lat is None or lon is None:
        return (sentence(f"{talker}GGA,{hms},,,,,0,00,99.99,,,,,,") +
                sentence(f"{talker}RMC,{hms},V,,,,,,,{dmy},,,N")).encode()
    la, ns = _dm(lat, 2), "N" if lat >= 0 else "S"
    lo, ew = _dm(lon, 3), "E" if lon >= 0 else "W"
    gga = f"{talker}GGA,{hms},{la},{ns},{lo},{ew},1,09,0.9,219.4,M,39.8,M,,"
    rmc = f"{talker}RMC,{hms},A,{la},{ns},{lo},{ew},12.4,87.3,{dmy},,,A"
    return (sentence(gga) + sentence(rmc)).encode()


class NmeaSimulator(PtySimulator):
    """A simulated serial GPS receiver."""

    def emit(self, lat: float | None, lon: float | None, *, valid: bool = True) -> None:
        """Send one fix (GGA + RMC) now."""
        self.send(fix_sentences(lat, lon, valid=valid))
