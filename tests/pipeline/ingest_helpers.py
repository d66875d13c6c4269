"""Shared helpers of the ingest tests: registered meters, encoded telegrams, publishing, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from core.types import RawFrame
from core.wire import encode_frames
from decoders.encoder import encode_oms, flow, total_volume
from pipeline.registry_import import import_meters_csv

MASTER = bytes(range(32))
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def register_meters(db_url: str, tmp: Path, n: int, *, key: bytes | None = KEY, man: str = "KAM") -> list[str]:
    """Register meters ``00000001``… with ``key``; return their ids."""
    ids = [f"{i + 1:08d}" for i in range(n)]
    path = tmp / "meters.csv"
    lines = ["manufacturer,meter_id,key_hex"] + [f"{man},{i},{key.hex() if key else ''}" for i in ids]
    path.write_text("\n".join(lines) + "\n")
    import_meters_csv(db_url, path, master_key=MASTER)
    return ids


def telegram(meter_id: str, seq: int, *, man: str = "KAM", key: bytes = KEY, total: float | None = None) -> bytes:
    """A mode-5 telegram of ``meter_id`` with access number ``seq % 256``."""
    return encode_oms(man, meter_id, access_number=seq % 256, mode=5, key=key, frame_format="A",
                      records=[total_volume(total if total is not None else seq * 0.001), flow(0.05)])


def frames_message(gateway: str, items: list[tuple[bytes, datetime]], rssi: float = -80.0) -> bytes:
    """One wire message with the given (frame, received_at) pairs."""
    return encode_frames(gateway, [RawFrame(payload=p, received_at=t, source=gateway, rssi_dbm=rssi)
                                   for p, t in items])


def make_messages(ids: list[str], rounds: int, per_message: int = 10, gateway: str = "gw-1",
                  start: datetime = T0, first_round: int = 0) -> list[bytes]:
    """``rounds`` telegrams of every meter, ``per_message`` frames per message; distinct reception times.

    The same rounds sent again later are replays (one reading each); later telegrams take a ``first_round``."""
    items = [(telegram(mid, first_round + r), start + timedelta(seconds=16 * r, milliseconds=i))
             for r in range(rounds) for i, mid in enumerate(ids)]
    return [frames_message(gateway, items[i:i + per_message]) for i in range(0, len(items), per_message)]


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, url_host: str, port: int, prefix: str = "odczyt/v1") -> None:
        self.prefix = prefix
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.connect(url_host, port)
        self.client.loop_start()

    def publish(self, payloads: list[bytes], topic: str = "gw-1") -> None:
        infos = [self.client.publish(f"{self.prefix}/frames/{topic}", p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(timeout=30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def count(db_url: str, sql: str = "SELECT count(*) FROM readings") -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
