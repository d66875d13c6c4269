"""The root of odczyt's exception tree.

Each package defines its own subclass root (``decoders.errors.DecodeError``, ``storage.errors.StorageError`` …)
so callers can catch one layer's failures without catching programming errors.
"""


class OdczytError(Exception):
    """Base class of every exception odczyt raises on purpose."""


class ConfigError(OdczytError):
    """Settings are missing or contradict each other."""
