"""Meter address helpers shared by the stack and drivers."""

from __future__ import annotations


def meter_id_text(id_bytes: bytes) -> str:
    """A-field ID bytes (LSB first) → the printed 8-digit id (hex kept for non-BCD ids)."""
    return id_bytes[::-1].hex()
