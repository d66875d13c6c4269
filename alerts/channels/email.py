"""E-mail channel: one plain-text message per alert event over SMTP (optionally STARTTLS and login)."""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from alerts.errors import DeliveryError


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and as whom to send."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "odczyt@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


def render(payload: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of the message for ``payload`` (a customer's notice is the Polish text)."""
    alert = payload.get("alert", {})
    if payload.get("audience") == "customer":
        where = alert.get("address") or alert.get("service_point_id") or ""
        return f"Powiadomienie o zdarzeniu w instalacji wodnej: {where}", str(payload.get("text_pl", ""))
    where = alert.get("description") or alert.get("subject")
    subject = f"[odczyt] {payload.get('event', 'alert')}: {alert.get('kind')} ({alert.get('severity')}) {where}"
    meter = f"{alert['manufacturer']} {alert['meter_id']}" if alert.get("meter_id") else "-"
    body = "\n".join(
        [
            f"Event: {payload.get('event')}",
            f"Kind: {alert.get('kind')}",
            f"Severity: {alert.get('severity')}",
            f"Where: {where}",
            f"Service point: {alert.get('service_point_id') or '-'}  address: {alert.get('address') or '-'}  "
            f"customer: {alert.get('customer_ref') or '-'}  area: {alert.get('area') or '-'}",
            f"Meter: {meter}  subject: {alert.get('subject')}",
            f"Detected at: {alert.get('detected_at')}",
            *(f"Link ({name}): {url}" for name, url in (alert.get("links") or {}).items()),
            "",
            "Evidence:",
            json.dumps(alert.get("evidence", {}), indent=2, sort_keys=True, default=str),
        ]
    )
    return subject, body


class EmailChannel:
    """Sends each payload as one message to the address ``target``."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(
        self, target: str, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None:
        """Deliver one payload to the e-mail address ``target``."""
        cfg = self.config
        subject, body = render(payload)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = cfg.sender, target, subject
        if delivery_id:
            msg["X-Odczyt-Delivery"] = delivery_id
        msg.set_content(body)
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp {cfg.host}:{cfg.port} → {target}: {exc}") from exc
