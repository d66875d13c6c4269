"""Exception root of the ``hardware`` package."""

from __future__ import annotations

from core.errors import OdczytError


class HardwareError(OdczytError):
    """A receiver could not be opened, initialised or understood."""


class InitError(HardwareError):
    """A receiver did not answer its initialisation sequence as expected."""


class UnknownReceiverError(HardwareError):
    """No receiver driver is registered under the requested name."""


class PortInUseError(HardwareError):
    """Another process holds the receiver's serial port (opened exclusively); two readers would share frames."""


class UnsupportedLinkModeError(HardwareError, ValueError):
    """The receiver cannot listen in the configured link mode (still a ``ValueError`` for older callers)."""
