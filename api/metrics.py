"""Prometheus gauges the API derives from the database, so ``/metrics`` shows the pipeline's health even
when the ingest workers run in other processes (they also export their own counters)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool

from storage.dashboard import pipeline_summary


class DatabaseCollector(Collector):
    """Scrape-time gauges: readings stored, frames awaiting decode, dead letters, gateways, data freshness."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._pool.connection(timeout=5) as conn:
                s = pipeline_summary(conn)
        except Exception:  # a scrape must not fail because the database is briefly away
            return
        yield GaugeMetricFamily("odczyt_db_meters", "Meters in the registry", value=s.meters)
        yield GaugeMetricFamily("odczyt_db_meters_heard_24h", "Meters with a reading in 24 h", value=s.meters_heard_24h)
        yield GaugeMetricFamily("odczyt_db_readings", "Readings stored", value=s.readings_total)
        yield GaugeMetricFamily("odczyt_db_frames_undecoded", "Frames stored but not decodable yet (no/wrong key)",
                                value=s.frames_undecoded)
        yield GaugeMetricFamily("odczyt_db_dead_letters", "Messages kept as dead letters", value=s.dead_letters)
        yield GaugeMetricFamily("odczyt_db_frames_awaiting_key", "Frames of registered meters whose key is missing "
                                "or wrong", value=s.frames_awaiting_key)
        yield GaugeMetricFamily("odczyt_db_unknown_meters_heard", "Meters heard that are not in the registry",
                                value=s.unknown_meters_heard)
        gateways = GaugeMetricFamily("odczyt_db_gateways", "Gateways in the registry by state", labels=["state"])
        gateways.add_metric(["online"], s.gateways_online)
        gateways.add_metric(["offline"], s.gateways - s.gateways_online)
        yield gateways
        if s.last_committed_lag_s is not None:
            yield GaugeMetricFamily("odczyt_db_last_reading_age_seconds", "Age of the newest reading",
                                    value=s.last_committed_lag_s)
