"""SMS channel: one text message per notice through an HTTP SMS gateway of the kind Polish utilities use.

The request is the common shape of those gateways (SMSAPI.pl's ``sms.do`` and its look-alikes): an HTTP POST
of form fields ``to`` (digits, country code first), ``message``, ``from`` (sender name, optional) and
``format=json``, authenticated with a bearer token or HTTP basic credentials. A non-2xx answer, a connection
error, or a JSON answer carrying ``error`` is a failed attempt (the outbox retries it and dead-letters it
after its limit). The text is the customer's Polish notice naming the service point's address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from alerts.errors import DeliveryError
from alerts.subject import notice_pl

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{6,20}$")


@dataclass(frozen=True, slots=True)
class SmsConfig:
    """Where the SMS gateway is and how to talk to it (secrets never logged)."""

    url: str
    token: str | None = None  # bearer token (SMSAPI-style)
    username: str | None = None  # or HTTP basic credentials
    password: str | None = None
    sender: str | None = None
    template: str | None = None  # str.format template, see alerts.subject.notice_pl
    max_chars: int = 459  # three concatenated GSM-7 parts
    timeout_s: float = 10.0
    default_country: str = "48"


def normalize_phone(number: str, default_country: str = "48") -> str:
    """``+48 600 100 200`` / ``600-100-200`` → ``48600100200``; ValueError for anything not a phone number."""
    if not _PHONE.match(number.strip()):
        raise ValueError(f"not a phone number: {number!r}")
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+") or number.strip().startswith("00"):
        return digits.removeprefix("00")
    return default_country + digits if len(digits) == 9 else digits


def message_text(payload: dict[str, Any], template: str | None = None, max_chars: int = 459) -> str:
    """The SMS text for ``payload``: its Polish notice (or ``template`` filled from the alert), cut to length."""
    if template or "text_pl" not in payload:
        text = notice_pl(str(payload.get("event", "")), payload.get("alert", {}), template)
    else:
        text = str(payload["text_pl"])
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


class SmsChannel:
    """POSTs each notice to the gateway for the phone number ``target``."""

    def __init__(self, config: SmsConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        auth = httpx.BasicAuth(config.username, config.password or "") if config.username else None
        self._client = client or httpx.Client(timeout=config.timeout_s, auth=auth)

    def send(
        self, target: str, payload: dict[str, Any], *, secret: str | None = None, delivery_id: str | None = None
    ) -> None:
        """Deliver one notice to the phone number ``target``."""
        cfg = self.config
        try:
            to = normalize_phone(target, cfg.default_country)
        except ValueError as exc:
            raise DeliveryError(f"sms: {exc}") from exc
        form = {"to": to, "message": message_text(payload, cfg.template, cfg.max_chars), "format": "json",
                "encoding": "utf-8"}
        if cfg.sender:
            form["from"] = cfg.sender
        if delivery_id:  # the gateway refuses a repeated idx (check_idx): a retried notice is not sent twice
            form["idx"], form["check_idx"] = delivery_id, "1"
        headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
        try:
            resp = self._client.post(cfg.url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"sms gateway: {type(exc).__name__}: {exc}") from exc
        if not resp.is_success:
            raise DeliveryError(f"sms gateway: HTTP {resp.status_code}")
        _check_answer(resp)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _check_answer(resp: httpx.Response) -> None:
    """A 200 answer may still report an error in its JSON body (SMSAPI does: ``{"error": 101, …}``)."""
    if "json" not in resp.headers.get("content-type", ""):
        return
    try:
        body = resp.json()
    except ValueError:
        return
    if isinstance(body, dict) and body.get("error"):
        raise DeliveryError(f"sms gateway: error {body.get('error')}: {str(body.get('message', ''))[:200]}")


def sms_channel(notify: Any) -> SmsChannel:
    """An :class:`SmsChannel` from ``core.settings.NotifySettings`` (``sms_*`` fields; ``sms_url`` must be set)."""
    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return SmsChannel(SmsConfig(
        url=notify.sms_url, token=secret(notify.sms_token), username=notify.sms_username,
        password=secret(notify.sms_password), sender=notify.sms_sender, template=notify.sms_template,
        timeout_s=notify.sms_timeout_s,
    ))
