"""A small town for the browser tests: two areas of service points with positions, meters (one legalization
expired, one due), installations, hourly readings of the last days for some points, meter-stored values,
alerts, two gateways with receptions, and a dispatcher user."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from api.auth_credentials import hash_password
from storage import alerts, auth, gateways, registry
from storage.registry import Installation, Meter, ServicePoint

USER, PASSWORD = "dyspozytor", "tajne-haslo-1"
AREAS = {"north": (50.08, 19.93), "south": (50.02, 19.96)}
PER_AREA = {"north": 8, "south": 5}  # point counts differ, so filtering by area changes the drawn count
READ = {"N01", "N02", "N03", "N04", "S01"}


def _mark(i: int, today: date) -> tuple[str | None, str | None]:
    if i == 2:
        return "expiry", "2020"  # expired
    if i == 3:
        nxt = (today.replace(day=1) + timedelta(days=40)).replace(day=1)
        return "expiry", f"{nxt.month:02d}.{nxt.year}"  # valid through next month: due
    return "expiry", str(today.year + 4)


def _points(today: date) -> tuple[list[ServicePoint], list[Meter]]:
    points, meters = [], []
    for area, (lat0, lon0) in AREAS.items():
        for i in range(1, PER_AREA[area] + 1):
            sp = f"{area[0].upper()}{i:02d}"
            points.append(ServicePoint(id=sp, address=f"ul. Wodna {i}, Kraków ({area})", customer_ref=f"C-{sp}",
                                       lat=lat0 + 0.004 * (i % 4), lon=lon0 + 0.006 * (i // 4), area=area))
            mark = _mark(i, today)
            meters.append(Meter(manufacturer="KAM", meter_id=f"{ord(area[0]):02d}{i:06d}"[-8:], model="multical21",
                                q3_m3h=2.5, legalization_mark_type=mark[0], legalization_mark_value=mark[1]))
    return points, meters


def _readings(conn: psycopg.Connection, key: int, now: datetime, hours: int = 72) -> None:
    total = 120.0
    with conn.cursor() as cur, cur.copy("COPY readings (meter_key, measured_at, received_at, total_m3, flow_m3h,"
                                        " alarms, source) FROM STDIN") as copy:
        for h in range(hours, 0, -1):
            at = (now - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
            total += 0.01 + 0.03 * (at.hour in (7, 8, 19, 20))
            copy.write_row((key, at, at, round(total, 3), 0.02, 0, 0))


def _frames(conn: psycopg.Connection, key: int, now: datetime) -> None:
    for n in range(6):
        at = now - timedelta(minutes=5 + 20 * n)
        conn.execute("INSERT INTO raw_frames (received_at, frame_digest, meter_key, payload, status, gateways, "
                     "rssi_dbm, heard_at, decoded_at) VALUES (%s, %s, %s, %s, 0, %s, %s, %s, %s)",
                     (at, hashlib.blake2b(f"{key}{n}".encode(), digest_size=8).digest(), key, b"\x1e\x44",
                      ["gw-krakow-1", "gw-krakow-2"], [-71.0 - n, -88.5], [at, at], at))


def seed(db_url: str, now: datetime | None = None) -> dict[str, int]:
    """Seed the town; returns alert ids by service point."""
    now = now or datetime.now(UTC)
    points, meters = _points(now.date())
    installed = now - timedelta(days=400)
    with psycopg.connect(db_url, autocommit=True) as conn:
        registry.upsert_service_points(conn, points=points)
        registry.upsert_meters(conn, meters=meters)
        registry.upsert_installations(conn, installations=[
            Installation(service_point_id=p.id, meter_key=m.meter_key, installed_at=installed, initial_m3=1.0)
            for p, m in zip(points, meters, strict=True)])
        keys = {p.id: m.meter_key for p, m in zip(points, meters, strict=True)}
        for sp in READ:
            _readings(conn, keys[sp], now)
        _frames(conn, keys["N01"], now)
        # coverage: 30 hours ago gw-krakow-1 heard N02 and N03 and gw-krakow-2 S01 and S03; N08 was heard by
        # gw-krakow-1 ten days ago only (outside the map's 7 days)
        for sp, gw, age in (("N02", "gw-krakow-1", 30), ("N03", "gw-krakow-1", 30), ("S01", "gw-krakow-2", 30),
                            ("S03", "gw-krakow-2", 30), ("N08", "gw-krakow-1", 240)):
            at = now - timedelta(hours=age)
            conn.execute("INSERT INTO raw_frames (received_at, frame_digest, meter_key, payload, status, gateways, "
                         "rssi_dbm, heard_at, decoded_at) VALUES (%s, %s, %s, %s, 0, %s, %s, %s, %s)",
                         (at, hashlib.blake2b(f"cov{sp}".encode(), digest_size=8).digest(), keys[sp], b"\x1e\x44",
                          [gw], [-95.0], [at], at))
        # meter-stored values: N06 is read only through one (dated today), N01 has actual readings too, S05's
        # is dated the day before the period (not counted)
        today = now.astimezone(ZoneInfo("Europe/Warsaw")).date()
        for sp, day in (("N06", today), ("N01", today), ("S05", today.replace(day=1) - timedelta(days=1))):
            conn.execute("INSERT INTO meter_stored_values (meter_key, stored_date, value_m3, received_at) "
                         "VALUES (%s, %s, 150.0, %s)", (keys[sp], day, now))
        for gw, (lat, lon) in (("gw-krakow-1", (50.085, 19.94)), ("gw-krakow-2", (50.025, 19.97))):
            gateways.record_online(conn, gateway_id=gw, at=now - timedelta(minutes=1), watchdog_resets=0,
                                   status={"state": "online"}, figures={"frames_per_min": 12.5, "spool_depth": 3,
                                                                         "lat": lat, "lon": lon})
        ids = {}
        for sp, kind, sev in (("N01", "continuous_flow", "warning"), ("N05", "reverse_flow", "warning"),
                              ("S02", "burst", "critical")):
            ids[sp] = alerts.insert_alert(conn, kind=kind, subject=f"m:{keys[sp]}", meter_key=keys[sp],
                                          service_point_id=sp, severity=sev, dedupe_key=f"ui-{sp}",
                                          evidence={"flow_m3h": 0.05}, detected_at=now - timedelta(hours=3),
                                          now=now - timedelta(hours=2))
        auth.add_user(conn, name=USER, role="operations", password_hash=hash_password(PASSWORD))
    return {k: v for k, v in ids.items() if v is not None}
