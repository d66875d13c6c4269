"""Run an ingest worker that dies (``os._exit``) at a crash point: ``received`` or ``committed``.

Usage: python crash_worker.py DB_URL MQTT_URL CLIENT_ID TOPIC_PREFIX POINT
"""

from __future__ import annotations

import os
import sys
import time

from core.settings import IngestSettings, MqttSettings
from pipeline.ingest import IngestWorker


def main() -> None:
    db_url, mqtt_url, client_id, prefix, point = sys.argv[1:6]

    def hook(where: str) -> None:
        if where == point:
            os._exit(3)  # no ack, no DISCONNECT: like kill -9

    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=bytes(range(32)), client_id=client_id,
                          settings=IngestSettings(batch_size=100, batch_ms=50),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), crash_hook=hook,
                          maintenance_every_s=3600).start()
    worker.wait_connected(30)
    print("connected", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main()
