"""``odczyt redecode``: frames kept without a key become readings once the key arrives, exactly once."""

from __future__ import annotations

from datetime import timedelta
from hashlib import blake2b
from pathlib import Path

import psycopg
from ingest_helpers import MASTER, T0, count, register_meters, telegram

from pipeline.ingest_redecode import redecode
from storage.rows import FrameStatus, StoredFrame
from storage.writer import write_batch


def _kept(payload: bytes, at_s: int, *, lat: float | None = None) -> StoredFrame:
    at = T0 + timedelta(seconds=at_s)
    return StoredFrame(received_at=at, frame_digest=blake2b(payload, digest_size=8).digest(), payload=payload,
                       status=FrameStatus.KEY_MISSING, gateways=("gw-1",), rssi_dbm=(-80.0,), heard_at=(at,),
                       lat=lat, lon=None if lat is None else 19.94)


def test_redecode_after_the_key_arrives_keeps_radio_and_driveby_apart(db_url: str, tmp_path: Path) -> None:
    register_meters(db_url, tmp_path, 1, key=None)
    frames = [_kept(telegram("00000001", 1, total=1.5), 0), _kept(telegram("00000001", 2, total=1.6), 16, lat=50.06)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, frames=frames)
    before = redecode(db_url, since=T0 - timedelta(hours=1), master_key=MASTER)
    assert (before.decoded, before.readings_inserted) == (0, 0)  # still no key

    register_meters(db_url, tmp_path, 1)  # the key arrives
    report = redecode(db_url, since=T0 - timedelta(hours=1), master_key=MASTER)
    again = redecode(db_url, since=T0 - timedelta(hours=1), master_key=MASTER, all_frames=True)

    assert (report.frames, report.decoded, report.readings_inserted) == (2, 2, 2)
    assert (again.decoded, again.readings_inserted) == (2, 0)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT total_m3, source, measured_at FROM readings ORDER BY measured_at").fetchall()
    assert rows == [(1.5, 0, T0), (1.6, 1, T0 + timedelta(seconds=16))]  # 0 radio, 1 drive-by
    assert count(db_url, "SELECT count(*) FROM raw_frames WHERE status = 0 AND meter_key IS NOT NULL") == 2


def test_redecode_keeps_a_frame_whose_address_has_no_meter_key(db_url: str, tmp_path: Path) -> None:
    from core.dll import add_format_a_crcs
    from decoders.encoder import encode_oms, total_volume

    plain = encode_oms("KAM", "00000001", access_number=1, records=[total_volume(1.5)])
    odd = add_format_a_crcs(plain[:2] + b"\x00\x00" + plain[4:])  # M-field 0x0000: "@@@", which no key spells
    register_meters(db_url, tmp_path, 1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, frames=[_kept(odd, 0), _kept(telegram("00000001", 2, total=1.6), 16)])
    report = redecode(db_url, since=T0 - timedelta(hours=1), master_key=MASTER)
    assert (report.frames, report.decoded, report.readings_inserted) == (2, 1, 1)
    assert count(db_url, "SELECT count(*) FROM raw_frames WHERE status = 1 AND meter_key IS NULL") == 1


def test_redecode_files_a_meter_behind_a_radio_module_under_the_meter(db_url: str, tmp_path: Path) -> None:
    """A registered meter without a key, heard through a radio module (CI 0x72: the TPL address is the meter,
    the link address the module's): KEY_MISSING under the meter's key, not an unknown meter."""
    from core.ids import meter_key
    from decoders.encoder import encode_oms, total_volume

    frame = encode_oms("KAM", "00000001", 0x1B, 0x16, 3, 0x00, [total_volume(1.25)], mode=5, key=bytes(range(16)),
                       long_header=True, frame_format="A", link_manufacturer="ZRI", link_meter_id="99887766",
                       link_version=0x18, link_device_type=0x37)
    register_meters(db_url, tmp_path, 1, key=None)
    with psycopg.connect(db_url, autocommit=True) as conn:
        write_batch(conn, frames=[_kept(frame, 0)])
    report = redecode(db_url, since=T0 - timedelta(hours=1), master_key=MASTER)
    assert (report.frames, report.decoded) == (1, 0)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT status, meter_key FROM raw_frames").fetchall()
    assert rows == [(int(FrameStatus.KEY_MISSING), meter_key("KAM", "00000001"))]
