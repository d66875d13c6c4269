"""Soak benchmark (issue 13): a simulated town for a configurable time, with faults, counted in the database.

Starts its own EmbeddedPostgres and EmbeddedMosquitto, a gateway with receipts on (spool on disk), and two ingest
workers. Meters send mode-5 telegrams at ``--rate`` frames/s in total for ``--seconds``; every ``--fault-every``
seconds one fault is injected at random: the broker killed (``kill -9``) and restarted, PostgreSQL restarted,
a worker stopped without a word and restarted under its id, or the gateway stopped and restarted on its spool.
At the end it waits for the spool to drain and prints frames sent, stored, lost, duplicated and the worst
receipt delay seen (the gateway's oldest unreceipted age), then one JSON line.

    .venv/bin/python benchmarks/soak.py --seconds 1800 --rate 50      # the 30-minute run
    .venv/bin/python benchmarks/soak.py --seconds 60                  # a quick look
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from collectors.gateway import Gateway
from core.settings import IngestSettings, MqttSettings
from core.types import RawFrame
from decoders.encoder import encode_oms, flow, total_volume
from pipeline.embedded import EmbeddedMosquitto, EmbeddedPostgres
from pipeline.ingest import IngestWorker
from pipeline.registry_import import import_meters_csv
from storage.migrate import migrate

MASTER = bytes(range(32))
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=50.0, help="frames per second, the whole town")
    p.add_argument("--meters", type=int, default=500)
    p.add_argument("--fault-every", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=13)
    return p.parse_args()


class Town:
    """The services, the gateway and the workers of one run."""

    def __init__(self, base: Path, meters: int) -> None:
        self.base, self.pg, self.mq = base, EmbeddedPostgres(base).start(), EmbeddedMosquitto(base).start()
        migrate(self.pg.url)
        csv = base / "meters.csv"
        self.ids = [f"{i + 1:08d}" for i in range(meters)]
        csv.write_text("manufacturer,meter_id,key_hex\n" + "".join(f"KAM,{m},{KEY.hex()}\n" for m in self.ids))
        import_meters_csv(self.pg.url, csv, master_key=MASTER)
        self.workers = [self._worker(f"soak-w{i}") for i in range(2)]
        self.gateway = self._gateway()

    def _worker(self, client_id: str) -> IngestWorker:
        return IngestWorker(db_url=self.pg.url, mqtt_url=self.mq.url, master_key=MASTER, client_id=client_id,
                            settings=IngestSettings(), mqtt_settings=MqttSettings(), maintenance_every_s=3600,
                            fatal_hook=lambda reason: print("WORKER FATAL:", reason, flush=True),
                            journal_path=self.base / f"{client_id}.journal").start()

    def _gateway(self) -> Gateway:
        return Gateway("soak-gw", self.mq.url, self.base / "spool.db", batch_frames=100, batch_ms=200,
                       receipts=True, receipt_timeout_s=20).start()

    def fault(self, rng: random.Random) -> str:
        """Inject one random fault and recover from it."""
        kind = rng.choice(["broker", "database", "worker", "gateway"])
        if kind == "broker":
            self.mq.stop(hard=True)
            time.sleep(1)
            self.mq.start()
        elif kind == "database":
            self.pg.restart()
        elif kind == "worker":
            k = rng.randrange(len(self.workers))
            old = self.workers[k]
            old.stop(timeout=2)
            self.workers[k] = self._worker(old.client_id)
        else:
            self.gateway.stop()
            self.gateway = self._gateway()
        return kind

    def close(self) -> None:
        self.gateway.stop()
        for w in self.workers:
            w.stop()
        self.mq.stop()
        self.pg.stop()


def main() -> None:
    args = _args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="odczyt-soak-") as tmp:
        town = Town(Path(tmp), args.meters)
        sent, faults, worst = 0, [], 0.0
        start = time.monotonic()
        next_fault = start + args.fault_every
        t0 = datetime.now(UTC) - timedelta(hours=1)
        try:
            while (now := time.monotonic()) - start < args.seconds:
                due = int((now - start) * args.rate) - sent
                for _ in range(max(0, due)):
                    meter, seq = town.ids[sent % len(town.ids)], sent // len(town.ids)
                    frame = encode_oms("KAM", meter, access_number=seq % 256, mode=5, key=KEY, frame_format="A",
                                       records=[total_volume(seq * 0.001), flow(0.05)])
                    town.gateway.submit(RawFrame(payload=frame, received_at=t0 + timedelta(milliseconds=sent),
                                                 source="soak-gw"))
                    sent += 1
                if now >= next_fault:
                    faults.append(town.fault(rng))
                    next_fault = now + args.fault_every
                worst = max(worst, town.gateway.stats.oldest_unreceipted_s)
                time.sleep(0.05)
            deadline = time.monotonic() + 300
            while town.gateway.stats.spool_depth and time.monotonic() < deadline:
                worst = max(worst, town.gateway.stats.oldest_unreceipted_s)
                time.sleep(0.5)
            time.sleep(2)
            with psycopg.connect(town.pg.url) as conn:
                stored, distinct = conn.execute(
                    "SELECT count(*), count(DISTINCT (meter_key, access_number, total_m3)) FROM readings").fetchone()
        finally:
            town.close()
    result = {"seconds": args.seconds, "rate": args.rate, "sent": sent, "stored": stored,
              "lost": sent - distinct, "duplicated": stored - distinct, "faults": faults,
              "worst_receipt_delay_s": round(worst, 1)}
    print(f"sent {sent}, stored {stored}, lost {sent - distinct}, duplicated {stored - distinct}, "
          f"faults {len(faults)} ({', '.join(faults)}), worst receipt delay {worst:.1f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
