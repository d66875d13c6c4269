"""The HTTP API for the billing system and the operations dashboard (FastAPI)."""
