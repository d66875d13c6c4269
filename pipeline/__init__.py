"""Ingest workers, scheduled jobs and the composition root (CLI, demo, embedded services)."""
