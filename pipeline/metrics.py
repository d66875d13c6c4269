"""Prometheus metrics of the ingest workers (``odczyt ingest --metrics-port`` serves them)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_lock = threading.Lock()
_by_registry: dict[int, IngestMetrics] = {}


@dataclass(frozen=True)
class IngestMetrics:
    """Every ingest metric; one instance per registry, shared by the workers of a process."""

    frames_in: Counter
    decoded: Counter
    undecoded: Counter
    duplicates: Counter
    dead_letters: Counter
    readings_committed: Counter
    batch_size: Histogram
    commit_seconds: Histogram
    lag_seconds: Histogram
    db_errors: Counter
    thread_alive: Gauge
    quarantined: Counter
    clock_skew: Gauge


def ingest_metrics(registry: CollectorRegistry = REGISTRY) -> IngestMetrics:
    """The ingest metrics registered in ``registry`` (created on first use)."""
    with _lock:
        found = _by_registry.get(id(registry))
        if found is None:
            found = _create(registry)
            _by_registry[id(registry)] = found
        return found


def _create(registry: CollectorRegistry) -> IngestMetrics:
    return IngestMetrics(
        frames_in=Counter("odczyt_ingest_frames", "Frames received from MQTT", registry=registry),
        decoded=Counter("odczyt_ingest_decoded", "Frames decoded into readings", registry=registry),
        undecoded=Counter("odczyt_ingest_undecoded", "Frames kept undecoded, by status", ["status"],
                          registry=registry),
        duplicates=Counter("odczyt_ingest_duplicates", "Receptions of a telegram already seen", registry=registry),
        dead_letters=Counter("odczyt_ingest_dead_letters", "Messages dead-lettered, by reason", ["reason"],
                             registry=registry),
        readings_committed=Counter("odczyt_ingest_readings_committed", "New readings committed",
                                   registry=registry),
        batch_size=Histogram("odczyt_ingest_batch_frames", "Frames per committed batch", registry=registry,
                             buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)),
        commit_seconds=Histogram("odczyt_ingest_commit_seconds", "Time to commit one batch", registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)),
        lag_seconds=Histogram("odczyt_ingest_lag_seconds", "Frame received_at to reading committed",
                              registry=registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)),
        db_errors=Counter("odczyt_ingest_db_errors", "Failed batch commits (retried)", registry=registry),
        thread_alive=Gauge("odczyt_ingest_thread_alive", "1 while the worker thread runs, by thread", ["thread"],
                           registry=registry),
        quarantined=Counter("odczyt_ingest_quarantined", "Messages quarantined after stopping a worker twice",
                            registry=registry),
        clock_skew=Gauge("odczyt_ingest_gateway_clock_skew_seconds", "Latest message arrival minus the gateway's "
                         "sent_at (its clock's offset plus the broker's delay), by gateway", ["gateway"],
                         registry=registry),
    )
