"""An ingest worker that dies (``os._exit(3)``, like a segfault) while parsing any message from ``poison-gw``.

Usage: python poison_worker.py DB_URL MQTT_URL CLIENT_ID TOPIC_PREFIX JOURNAL
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from core.settings import IngestSettings, MqttSettings
from pipeline import ingest_batch
from pipeline.ingest import IngestWorker


def main() -> None:
    db_url, mqtt_url, client_id, prefix, journal = sys.argv[1:6]
    original = ingest_batch.BatchBuilder.add

    def add(self: ingest_batch.BatchBuilder, msg: ingest_batch.Message) -> None:
        if b'"poison-gw"' in msg.payload:
            os._exit(3)
        original(self, msg)

    ingest_batch.BatchBuilder.add = add  # type: ignore[method-assign]
    worker = IngestWorker(db_url=db_url, mqtt_url=mqtt_url, master_key=bytes(range(32)), client_id=client_id,
                          settings=IngestSettings(batch_size=100, batch_ms=200),
                          mqtt_settings=MqttSettings(topic_prefix=prefix), maintenance_every_s=3600,
                          journal_path=Path(journal)).start()
    worker.wait_connected(30)
    print("connected", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main()
