"""The root of odczyt's exception tree.

Each package defines its own subclass root (``decoders.errors.DecodeError``, ``storage.errors.StorageError`` …)
so callers can catch one layer's failures without catching programming errors.

The ``odczyt`` CLI (``pipeline/cli.py``) prints any :class:`OdczytError` that reaches it as one line on stderr
and exits 2: raise one (or :class:`UserError` for a mistake of the person at the keyboard) with a message that
says what is wrong and what to do. Anything else is a bug and keeps its traceback.
"""


class OdczytError(Exception):
    """Base class of every exception odczyt raises on purpose."""


class ConfigError(OdczytError):
    """Settings are missing or contradict each other."""


class UserError(OdczytError):
    """A mistake of the person at the keyboard (bad option value, unknown name, missing file); the message says
    what is wrong and what to do instead."""
