"""A gateway with receipts that spools N telegrams, then dies (``os._exit(9)``, like ``kill -9``) mid-publish.

Usage: python gateway_victim.py MQTT_URL SPOOL PREFIX METERS ROUNDS
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))

from ingest_helpers import T0, telegram

from collectors.gateway import Gateway
from core.types import RawFrame


def main() -> None:
    mqtt_url, spool, prefix, meters, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    ids = [f"{i + 1:08d}" for i in range(meters)]
    frames = [RawFrame(payload=telegram(mid, r), received_at=T0 + timedelta(seconds=16 * r, milliseconds=i),
                       source="gw-victim") for r in range(rounds) for i, mid in enumerate(ids)]
    gw = Gateway("gw-victim", mqtt_url, spool, batch_frames=20, batch_ms=10, topic_prefix=prefix, receipts=True,
                 receipt_timeout_s=5, max_inflight=5).start()
    for frame in frames:
        gw.submit(frame)
    deadline = time.monotonic() + 30
    while gw.stats.published < len(frames) // 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    print(gw.stats.spooled, gw.stats.published, flush=True)
    os._exit(9)


if __name__ == "__main__":
    main()
