"""Exception root of the ``collectors`` package."""

from __future__ import annotations

from core.errors import OdczytError


class CollectorError(OdczytError):
    """The gateway or the drive-by tool cannot go on (bad config, unusable spool)."""
