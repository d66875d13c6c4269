"""Notification channels: webhook (signed HTTP POST), e-mail over SMTP, MQTT. Each raises DeliveryError."""

from alerts.channels.email import EmailChannel, SmtpConfig
from alerts.channels.mqtt import MqttChannel
from alerts.channels.webhook import SIGNATURE_HEADER, WebhookChannel, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "EmailChannel",
    "MqttChannel",
    "SmtpConfig",
    "WebhookChannel",
    "sign",
    "verify",
]
