"""NMEA GGA/RMC parsing, fix freshness/validity rules, and the GPS reader against the pty simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from hardware.nmea import GpsReader, GpsTracker, parse_sentence
from hardware.sim.nmea import NmeaSimulator, fix_sentences

SAMPLES = [
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", True, 48.1173, 11.516667),
    ("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A", True, 48.1173, 11.516667),
    ("$GPGGA,101530.00,5003.73620,N,01956.34550,E,1,09,0.9,219.4,M,39.8,M,,*6C", True, 50.06227, 19.939092),
    ("$GNRMC,101530.00,A,5003.73620,N,01956.34550,E,12.4,87.3,150326,,,A*44", True, 50.06227, 19.939092),
    ("$GPGGA,101531.00,,,,,0,00,99.99,,,,,,*61", False, None, None),
    ("$GNRMC,101531.00,V,,,,,,,150326,,,N*67", False, None, None),
]


@pytest.mark.parametrize(("line", "valid", "lat", "lon"), SAMPLES)
def test_reference_sentences(line, valid, lat, lon):
    fix = parse_sentence(line)
    assert fix is not None and fix.valid is valid
    if valid:
        assert fix.lat == pytest.approx(lat, abs=1e-5) and fix.lon == pytest.approx(lon, abs=1e-5)


def test_wrong_checksum_and_other_sentences_are_ignored():
    assert parse_sentence("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B") is None
    assert parse_sentence("$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74") is None
    assert parse_sentence("garbage") is None


def test_rmc_date_and_southern_western_hemispheres():
    fix = parse_sentence("$GPRMC,123519,A,4807.038,S,01131.000,W,022.4,084.4,230394,003.1,W*65")
    assert fix.lat < 0 and fix.lon < 0 and fix.fix_at == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)


def test_position_only_when_fix_is_valid_and_fresh():
    tracker = GpsTracker(max_age_s=5)
    now = datetime.now(UTC)
    tracker.feed(fix_sentences(50.06, 19.94), received_at=now)
    assert tracker.position_for(now + timedelta(seconds=2)).lat == pytest.approx(50.06)
    assert tracker.position_for(now + timedelta(seconds=10)) is None  # stale
    tracker.feed(fix_sentences(None, None, valid=False), received_at=now + timedelta(seconds=3))
    assert tracker.position_for(now + timedelta(seconds=3)) is None  # fix lost
    assert len(tracker.track) == 1


def test_split_sentences_and_garbage():
    tracker = GpsTracker()
    data = b"\x00\xffjunk\r\n" + fix_sentences(50.0, 19.0)
    for i in range(0, len(data), 5):
        tracker.feed(data[i : i + 5])
    assert tracker.sentences == 2 and tracker.position_for(datetime.now(UTC)) is not None


def test_gps_reader_over_pty():
    with NmeaSimulator() as sim:
        reader = GpsReader(sim.port).start()
        try:
            deadline = time.monotonic() + 5
            while reader.tracker.position_for(datetime.now(UTC)) is None and time.monotonic() < deadline:
                sim.emit(50.0614, 19.9372)
                time.sleep(0.05)
            pos = reader.tracker.position_for(datetime.now(UTC))
        finally:
            reader.stop()
    assert pos is not None and pos.lat == pytest.approx(50.0614, abs=1e-5)
