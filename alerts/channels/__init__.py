"""Notification channels: webhook (signed HTTP POST), e-mail over SMTP, MQTT, SMS. Each raises DeliveryError."""

from alerts.channels.email import EmailChannel, SmtpConfig
from alerts.channels.mqtt import MqttChannel
from alerts.channels.sms import SmsChannel, SmsConfig
from alerts.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_S,
    WebhookChannel,
    sign,
    verify_signature,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "EmailChannel",
    "MqttChannel",
    "SmsChannel",
    "SmsConfig",
    "SmtpConfig",
    "WebhookChannel",
    "sign",
    "verify_signature",
]
