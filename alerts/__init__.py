"""Alert rules over polars frames, the alert lifecycle and notification channels.

Nothing here reads the database: frames and stored alerts are passed in by ``pipeline/analyze.py``.
"""
