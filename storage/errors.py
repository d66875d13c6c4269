"""The storage layer's exception tree; database errors are translated here with ``raise … from exc``."""

from __future__ import annotations

from core.errors import OdczytError


class StorageError(OdczytError):
    """A storage operation failed (database unreachable, constraint violated, bad stored data)."""


class MigrationError(StorageError):
    """A numbered migration could not be applied; the message names the file."""


class RegistryError(StorageError):
    """The meter registry refused an operation (unknown meter, undecryptable key, wrong master key)."""


class TransientStorageError(StorageError):
    """The database went away or the transaction was aborted; retrying the same work later is safe."""
