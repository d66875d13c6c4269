"""A simulated town of radio water meters for the demo, the end-to-end tests and the benchmarks.

Each meter serves one household with a realistic day/night profile (Europe/Warsaw local time), transmits
an OMS mode-5 telegram (its own AES key) on a fixed interval with an access number that increments, and
keeps the value at the last month end as its billing-date (target) value. A few meters carry injected
faults (a continuous leak, reverse flow) so the analytics have something real to find.

Everything here is deterministic for a seed: the expected register of every transmission travels with it,
so tests can check that exactly those values were stored.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.ids import meter_key
from decoders import encoder

WARSAW = ZoneInfo("Europe/Warsaw")
# Share of a day's consumption in each local hour: a morning and an evening peak, almost nothing at night.
HOURLY_PROFILE = (
    0.004, 0.002, 0.001, 0.001, 0.002, 0.01, 0.045, 0.075, 0.07, 0.05, 0.04, 0.04,
    0.045, 0.04, 0.035, 0.035, 0.04, 0.055, 0.075, 0.085, 0.08, 0.07, 0.045, 0.015,
)
FLUSH_L = 9.0  # litres of one toilet flush
MANUFACTURERS = ("APA", "DME", "ZRI", "SEN", "ITW", "BMT", "MAD")


@dataclass(frozen=True, slots=True)
class SimMeter:
    """One simulated meter and the service point it serves."""

    manufacturer: str
    meter_id: str
    version: int
    key: bytes
    service_point: str
    address: str
    lat: float
    lon: float
    persons: int
    start_m3: float
    fault: str | None = None  # "leak" (continuous flow) or "reverse" (meter-reported reverse flow)
    q3_m3h: float = 2.5
    legalized_year: int = 2022

    @property
    def key_int(self) -> int:
        return meter_key(self.manufacturer, self.meter_id)


@dataclass(frozen=True, slots=True)
class Transmission:
    """One telegram a meter sent, with the values it encodes."""

    at: datetime
    meter: SimMeter
    frame: bytes
    access_number: int
    total_m3: float
    target_m3: float
    target_date: date


@dataclass
class _State:
    register_l: int
    access: int
    target_l: int
    target_date: date
    backward_l: int = 0
    phase_s: float = 0.0
    rng: random.Random = field(default_factory=random.Random)


def _month_end_before(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


class Town:
    """``meters`` households around a town centre, reproducible from ``seed``."""

    def __init__(self, meters: int, *, seed: int = 7, faults: bool = True,
                 centre: tuple[float, float] = (50.0614, 19.9366)) -> None:
        rng = random.Random(seed)
        self.meters: list[SimMeter] = []
        for i in range(meters):
            fault = None
            if faults and meters >= 20:
                fault = "leak" if i % 50 == 7 else "reverse" if i % 50 == 23 else None
            self.meters.append(SimMeter(
                manufacturer=MANUFACTURERS[i % len(MANUFACTURERS)],
                meter_id=f"{10_000_000 + i * 7919 % 89_999_999:08d}",
                version=1,
                key=rng.randbytes(16),
                service_point=f"SP-{i + 1:06d}",
                address=f"ul. Wodna {i // 4 + 1}/{i % 4 + 1}, Kraków",
                lat=round(centre[0] + rng.uniform(-0.02, 0.02), 6),
                lon=round(centre[1] + rng.uniform(-0.03, 0.03), 6),
                persons=rng.choice((1, 2, 2, 3, 3, 4, 5)),
                start_m3=round(rng.uniform(5, 900), 3),
                fault=fault,
                legalized_year=rng.choice((2019, 2020, 2021, 2022, 2023, 2024)),
            ))
        self.seed = seed

    def transmissions(self, start: datetime, days: int, *, every_minutes: int = 60) -> Iterator[Transmission]:
        """Every telegram of every meter from ``start`` for ``days``, in time order."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        states = {m.meter_id: self._initial_state(m, start) for m in self.meters}
        step = timedelta(minutes=every_minutes)
        slot = start.astimezone(UTC)
        end = slot + timedelta(days=days)
        while slot < end:
            batch = []
            for m in self.meters:
                st = states[m.meter_id]
                # A meter keeps its own schedule: a fixed phase in the interval, a few seconds of jitter.
                offset = min(max(st.phase_s + st.rng.uniform(-20, 20), 0.0), step.total_seconds() - 1)
                batch.append((slot + timedelta(seconds=offset), m, st))
            batch.sort(key=lambda item: item[0])
            for at, m, st in batch:
                yield self._transmit(m, st, at, step)
            slot += step

    def _initial_state(self, m: SimMeter, start: datetime) -> _State:
        rng = random.Random(f"{self.seed}-{m.meter_id}")
        reg = round(m.start_m3 * 1000)
        return _State(register_l=reg, access=rng.randrange(256), target_l=max(0, reg - 4000),
                      target_date=_month_end_before(start.astimezone(WARSAW).date()), rng=rng,
                      phase_s=rng.uniform(20, 3580))

    def _transmit(self, m: SimMeter, st: _State, at: datetime, step: timedelta) -> Transmission:
        local = at.astimezone(WARSAW)
        month_end = _month_end_before(local.date())
        if month_end > st.target_date:  # a month closed since the last telegram: the meter stores its value
            st.target_l, st.target_date = st.register_l, month_end
        hours = step.total_seconds() / 3600
        expected = 110 * m.persons * HOURLY_PROFILE[local.hour] * hours
        if expected < FLUSH_L:  # quiet hours: water is used in discrete events (a flush) or not at all
            used = FLUSH_L if st.rng.random() < expected / FLUSH_L else 0.0
        else:
            used = expected * st.rng.uniform(0.6, 1.4)
        if m.fault == "leak":
            used += 6.0 * hours  # a running toilet: 6 l/h around the clock
        st.register_l += round(used)
        flags = 0
        if m.fault == "reverse" and local.hour in (3, 4):
            st.backward_l += 12  # a backflow event: 12 l/h for two night hours
            flags = 0x0800  # OMS error flags: backflowing (Zenner-style bit, see domain notes)
        st.access = (st.access + 1) & 0xFF
        records = [
            encoder.total_volume(st.register_l / 1000),
            encoder.date_time(local.replace(tzinfo=None, second=0, microsecond=0)),
            encoder.billing_volume(st.target_l / 1000),
            encoder.billing_date(st.target_date),
            encoder.backward_volume(st.backward_l / 1000),
            encoder.error_flags(flags),
        ]
        frame = encoder.encode_oms(m.manufacturer, m.meter_id, m.version, 0x07, st.access, 0, records,
                                   mode=5, key=m.key, frame_format="A")
        return Transmission(at=at, meter=m, frame=frame, access_number=st.access,
                            total_m3=st.register_l / 1000, target_m3=st.target_l / 1000,
                            target_date=st.target_date)

    def registry_csv_rows(self) -> list[dict[str, str]]:
        """The meters, keys, service points and installations as rows for ``odczyt meters import``."""
        rows = []
        for m in self.meters:
            rows.append({
                "manufacturer": m.manufacturer, "meter_id": m.meter_id, "version": str(m.version),
                "device_type": "7", "model": "OMS water (simulated)", "key_hex": m.key.hex().upper(),
                "q3_m3h": str(m.q3_m3h), "service_point_id": m.service_point, "address": m.address,
                "customer_ref": f"K-{m.service_point[3:]}", "lat": str(m.lat), "lon": str(m.lon),
                "area": "Kraków-Centrum", "installed_at": "2022-01-01T00:00:00Z",
                "initial_m3": str(m.start_m3), "legalization_mark_type": "mid",
                "legalization_mark_value": f"M{m.legalized_year % 100:02d}",
            })
        return rows
