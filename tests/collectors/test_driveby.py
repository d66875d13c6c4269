"""Drive-by: a simulated route with GPS over ptys ends in a complete report; sync is idempotent."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

from collect_helpers import wait_for

from collectors.driveby import DrivebySession, sync
from collectors.driveby_store import DrivebyStore
from collectors.linklayer import link_identity, manufacturer_code
from collectors.mqtt import MqttTarget
from collectors.report import write_report
from collectors.route import load_route
from hardware import open_receiver
from hardware.nmea import GpsReader
from hardware.sim.frames import OMS_EXAMPLE, synthetic_frame
from hardware.sim.im871a import Im871aSimulator
from hardware.sim.nmea import NmeaSimulator

ROUTE = [(61000000 + i, f"ul. Długa {i + 1}, Kraków", 50.060 + i * 0.001, 19.930 + i * 0.0015) for i in range(6)]


def at_fix(gps_sim: NmeaSimulator, gps: GpsReader, lat: float, lon: float) -> bool:
    """Send a fix (the reader may not have the port open yet) and report whether the tracker took it."""
    gps_sim.emit(lat, lon)
    time.sleep(0.02)
    track = gps.tracker.track
    return bool(track) and abs(track[-1].position.lat - lat) < 1e-6


def write_route(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["meter_id", "address", "lat", "lon", "key"])
        for meter_id, address, lat, lon in ROUTE:
            writer.writerow([meter_id, address, lat, lon, "00" * 16])
    return path


def test_link_identity_masks_bit_15_and_reads_bcd_id():
    assert manufacturer_code(0x8614) == "APT"
    assert link_identity(OMS_EXAMPLE) == ("ELS", "12345678")


def test_route_loads_from_csv_and_json(tmp_path: Path):
    route = load_route(write_route(tmp_path / "r1.csv"))
    assert len(route.meters) == 6 and route.meters[0].meter_id == "61000000" and route.keys()
    (tmp_path / "r2.json").write_text('{"route_id": "R2", "meters": [{"meter_id": "42", "lat": 50, "lon": 19}]}')
    assert load_route(tmp_path / "r2.json").meters[0].meter_id == "00000042"


def test_simulated_route_with_gps_ends_in_complete_report(tmp_path: Path, mqtt_broker, recorder_factory):
    route = load_route(write_route(tmp_path / "route-7.csv"))
    store = DrivebyStore(tmp_path / "session.sqlite")
    stop = threading.Event()
    with Im871aSimulator() as radio, NmeaSimulator() as gps_sim:
        gps = GpsReader(gps_sim.port).start()
        rx = open_receiver("im871a", radio.port, link_mode="C1T1", source="van-1")
        session = DrivebySession(route, store, gps=gps.tracker)
        worker = threading.Thread(target=session.run, args=(rx, stop), kwargs={"until_complete": False})
        worker.start()
        try:
            assert rx.wait_ready(5)
            for meter_id, _, lat, lon in ROUTE[:4]:  # the van passes four of the six meters
                wait_for(lambda lat=lat, lon=lon: at_fix(gps_sim, gps, lat, lon))
                radio.transmit(synthetic_frame(meter_id, 1), rssi_dbm=-75)
            radio.transmit(synthetic_frame(99999999, 1), rssi_dbm=-95)  # a stranger
            wait_for(lambda: session.progress.frames == 5)
        finally:
            stop.set()
            worker.join(5)
            rx.stop()
            gps.stop()
    assert session.progress.read == {str(m[0]) for m in ROUTE[:4]}
    assert session.progress.unread == 2 and session.progress.strangers == {"99999999"}
    paths = write_report(store, tmp_path / "report")
    assert (paths.read, paths.unread, paths.off_route) == (4, 2, 1)
    with paths.csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["meter_id"]: r["status"] for r in rows}["61000005"] == "unread"
    page = paths.html.read_text(encoding="utf-8")
    assert page.count('class="read"') == 4 and page.count('class="unread"') == 2 and "<polyline" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained
    heard = store.unsent(10)
    assert all(f.position is not None for _, f in heard)  # every frame tagged with the fresh fix

    rec = recorder_factory(mqtt_broker.host, mqtt_broker.port)
    target = MqttTarget.from_url(mqtt_broker.url)
    first = sync(store, target, "van-1", batch_frames=2)
    assert (first.sent, first.remaining) == (5, 0)
    wait_for(lambda: rec.count() >= 5)
    second = sync(store, target, "van-1")
    assert (second.sent, second.already) == (0, 5)
    store.close()
