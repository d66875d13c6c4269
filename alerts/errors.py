"""Exception root of the alerts package."""

from core.errors import OdczytError


class AlertsError(OdczytError):
    """Something in rule evaluation, lifecycle or notification went wrong on purpose."""


class DeliveryError(AlertsError):
    """A notification channel could not deliver a message (the outbox retries it)."""
