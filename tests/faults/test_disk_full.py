"""A full disk under the gateway's spool (issue 13): held in memory up to a bound, said, counted, resumed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from ingest_helpers import T0, wait_for

from collectors.gateway import Gateway
from collectors.status import heartbeat
from core.types import RawFrame


def _frame(i: int) -> RawFrame:
    payload = bytes.fromhex("2E44") + i.to_bytes(4, "little") + bytes(20)
    return RawFrame(payload=payload, received_at=T0 + timedelta(milliseconds=i), source="gw-full")


def test_full_disk_holds_newest_frames_counts_drops_and_resumes(private_broker, tmp_path: Path) -> None:
    gw = Gateway("gw-full", private_broker.url, tmp_path / "spool.db", batch_frames=50, batch_ms=10,
                 memory_max_frames=300, dedupe_window_s=0.001)
    gw.start()
    try:
        wait_for(lambda: gw.stats.connected, what="connected", timeout=20)
        private_broker.stop()  # the broker stalls: nothing leaves the spool
        wait_for(lambda: not gw.stats.connected, what="disconnected", timeout=20)
        spool = gw._spool
        assert spool is not None
        pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
        spool._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
        for i in range(1000):
            gw.submit(_frame(i))
        wait_for(lambda: gw.stats.received == 1000 and gw.stats.disk_full, what="disk full seen", timeout=20)
        wait_for(lambda: gw.stats.spooled + gw.stats.memory_held + gw.stats.memory_dropped == 1000,
                 what="every frame accounted for", timeout=10)
        assert gw.stats.memory_dropped > 0 and gw.stats.memory_held == 300
        assert gw.stats.memory_dropped == 1000 - 300 - gw.stats.spooled
        doc = json.loads(heartbeat("gw-full", gw.stats, [], spool_max=spool.max_frames, oldest=None, uptime_s=1,
                                   protocol="5"))
        assert doc["degraded"] == ["disk_full"] and doc["frames"]["memory_dropped"] == gw.stats.memory_dropped
        spool._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
        wait_for(lambda: not gw.stats.disk_full, what="spooling resumed by itself", timeout=10)
        private_broker.start()
        kept = 1000 - gw.stats.memory_dropped
        wait_for(lambda: gw.stats.published == kept and gw.stats.spool_depth == 0, what="kept frames published",
                 timeout=40)
    finally:
        gw.stop()
    assert gw.stats.published + gw.stats.memory_dropped == 1000  # nothing lost without being counted
