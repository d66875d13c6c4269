"""One ``Settings`` object, built at each entry point from ``ODCZYT_*`` variables and ``.env``, passed down.

Nested groups use ``__``: ``ODCZYT_INGEST__BATCH_SIZE=500``. The two service URLs are top-level:
``ODCZYT_DATABASE_URL`` and ``ODCZYT_MQTT_URL``. When either is unset, ``odczyt demo`` and the test suite start
throwaway embedded services instead. ``ODCZYT_ENV_FILE`` (or ``odczyt --config FILE``) names the env file to
read instead of ``./.env``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttSettings(BaseModel):
    """Broker options beyond the URL."""

    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    topic_prefix: str = "odczyt/v1"
    keepalive_s: int = 30
    max_inflight: int = Field(default=1000, ge=1, le=20000)  # far below paho's 65,535 message-id space


class CollectorSettings(BaseModel):
    """Fixed-gateway daemon options."""

    gateway_id: str = "gw-local"
    batch_frames: int = Field(default=100, ge=1, le=5000)
    batch_ms: int = Field(default=500, ge=1)
    spool_path: Path = Path("var/spool.sqlite")
    spool_max_frames: int = Field(default=5_000_000, ge=1000)
    dedupe_window_s: float = Field(default=30.0, ge=0)
    heartbeat_s: float = Field(default=60.0, gt=0)
    receiver: str = "im871a"
    port: str | None = None
    baudrate: int | None = None
    link_mode: str = "T1"
    silence_reset_s: float = Field(default=300.0, gt=0)
    gps_port: str | None = None
    gps_max_age_s: float = Field(default=5.0, gt=0)  # a fix older than this does not tag frames
    mqtt_protocol: str = "auto"  # "5", "3.1.1" or "auto" (MQTT 5 with a fallback)
    ack_timeout_s: float = Field(default=60.0, gt=0)  # re-publish a batch the broker did not acknowledge
    spool_synchronous: str = "FULL"  # SQLite synchronous mode of the spool: FULL survives power loss
    # keep frames the broker routed to nobody (MQTT 5 PUBACK 0x10: no ingest session exists yet) and retry;
    # production gateways set it (deploy/collect.env.example), the demo and tests publish to no one on purpose
    hold_unrouted: bool = False
    # keep every frame until the ingest side receipts it as stored (odczyt/v1/receipts/{id}), not just until the
    # broker's PUBACK (docs/mqtt-format.md); needs ingest workers that publish receipts (any current version)
    receipts: bool = False
    receipt_timeout_s: float = Field(default=120.0, gt=0)  # re-publish a range not receipted within this


class IngestSettings(BaseModel):
    """Ingest-worker options."""

    client_id: str = "odczyt-ingest-1"
    shared_group: str = "ingest"
    # A batch ends at batch_size frames or batch_ms after its first message, whichever comes first: under load
    # the timer decides (≈ 200 ms of frames), idle streams commit within batch_ms. Every batch pays a few round
    # trips and a commit; 5,000 instead of 2,000 frames measured 32 k vs 27 k readings/s end to end here.
    batch_size: int = Field(default=5000, ge=1)
    batch_ms: int = Field(default=200, ge=1)
    dedupe_window_s: float = Field(default=120.0, ge=0)
    # analysis (alert rules) every 15 minutes from the ingest service; 0 = not scheduled (tests, extra workers)
    analyze_every_s: float = Field(default=900.0, ge=0)
    watch_gateways: bool = True  # the ingest service also reads the gateways' status topic
    # decoded readings on MQTT after commit (pipeline/readings_publish.py): {topic_prefix}/readings/{man}/{id}
    publish_readings: bool = False
    publish_retain: bool = False  # keep the last value on the broker for new subscribers
    ha_discovery: bool = False  # Home Assistant MQTT discovery configs (retained) for each meter/service point
    ha_prefix: str = "homeassistant"


class OidcSettings(BaseModel):
    """OIDC bearer tokens from the utility's identity provider (off while ``issuer`` is unset).

    ``role_claim`` is a dotted path into the token (``roles``, ``realm_access.roles`` for Keycloak); each value
    found is looked up in ``role_map`` (IdP role → odczyt role); values equal to an odczyt role name count as
    that role when the map does not name them.
    """

    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None  # https://…/certs or file:///etc/odczyt/jwks.json
    role_claim: str = "roles"
    role_map: dict[str, str] = Field(default_factory=dict)
    algorithms: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
    jwks_cache_s: float = Field(default=300.0, gt=0)
    leeway_s: float = Field(default=30.0, ge=0)


class ApiSettings(BaseModel):
    """HTTP API options (``odczyt serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    access_log: bool = True
    graceful_shutdown_s: float = Field(default=10.0, gt=0)
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool = True  # session cookie only over HTTPS; set false for plain-HTTP local use
    # addresses of reverse proxies whose X-Forwarded-For/-Proto are trusted ("127.0.0.1", "10.0.0.5,10.0.0.6");
    # unset: the peer address is the client (login throttle, rate limit and access log see the proxy otherwise)
    forwarded_allow_ips: str | None = None
    oidc: OidcSettings = OidcSettings()
    # API conventions (docs/api.md "Conventions"): CORS is off until origins are listed; the rate limit is a
    # token bucket per credential and worker process (0 turns it off); time ranges are capped per request.
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    rate_limit_per_s: float = Field(default=20.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    max_range_days: int = Field(default=400, ge=1, le=36500)  # hourly and daily consumption
    max_range_days_coarse: int = Field(default=3660, ge=1, le=36500)  # weekly and monthly consumption
    # the dashboard map's base layer (docs/dashboard.md): "osm" = tiles from map_tiles_url, "wms" = the utility's
    # own GIS (map_wms_url + map_wms_layers), "none" = no tiles (closed intranet): points on a blank canvas
    map_base: Literal["osm", "wms", "none"] = "osm"
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_wms_url: str | None = None
    map_wms_layers: str = ""
    map_attribution: str = "© OpenStreetMap contributors"


class AnalyticsSettings(BaseModel):
    """Thresholds of the analytics rules (see docs/domain notes §3)."""

    timezone: str = "Europe/Warsaw"
    leak_window_h: int = 24
    night_start_h: int = 2
    night_end_h: int = 4
    night_clean_nights: int = 2
    burst_share_of_q3: float = 0.3
    burst_minutes: int = 30
    stuck_days: int = 28
    silent_days_fixed: int = 2
    silent_days_driveby: int = 75
    never_heard_days_fixed: int = 3  # installed this long and no reading at all: never_heard
    never_heard_days_driveby: int = 90
    legalization_warn_days: tuple[int, ...] = (180, 90, 30)
    anomaly_ratio: float = 2.5


class NotifySettings(BaseModel):
    """Notification channels for alert subscriptions (``odczyt alerts subscribe``); a channel a subscription
    names but that is not configured here counts as a failed delivery and is retried."""

    webhook: bool = True
    webhook_timeout_s: float = 5.0
    smtp_host: str | None = None  # e-mail is off until set
    smtp_port: int = 25
    smtp_sender: str = "odczyt@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mqtt: bool = True  # publish on the MQTT broker of ``mqtt_url``
    sms_url: str | None = None  # HTTP SMS gateway (SMSAPI-style form POST); SMS is off until set
    sms_token: SecretStr | None = None  # bearer token, or:
    sms_username: str | None = None
    sms_password: SecretStr | None = None
    sms_sender: str | None = None
    sms_template: str | None = None  # str.format fields: event, kind, address, service_point, meter, when
    sms_timeout_s: float = 10.0


class BillingSettings(BaseModel):
    """Read-to-bill thresholds (docs/billing.md): validation rules, estimation, manual readings."""

    falling_tolerance_m3: float = Field(default=0.005, ge=0)
    q4_over_q3: float = Field(default=1.25, ge=1)  # the jump rule's maximum flow: Q4 = 1.25 × Q3
    default_q3_m3h: float = Field(default=2.5, gt=0)  # a meter without q3_m3h in the registry
    future_tolerance_s: float = Field(default=300.0, ge=0)
    stale_after_h: float = Field(default=48.0, gt=0)  # meter clock this far behind the reception: stale
    rollover_m3: float = Field(default=100_000.0, gt=0)  # the register wraps to 0 here (5 integer digits)
    actual_window_h: float = Field(default=24.0, gt=0)  # a reading this close before a cut-off is the value
    interpolate_max_days: float = Field(default=62.0, gt=0)
    estimate_min_span_days: float = Field(default=28.0, gt=0)
    norm_l_per_person_day: float | None = Field(default=None, gt=0)  # 2002 norms, e.g. 80–160 l/day
    history_days: int = Field(default=400, ge=30, le=800)  # readings looked back for estimates
    photo_max_bytes: int = Field(default=40_000, ge=0)  # a manual reading's photo (base64 in the JSON body)


class GatewaySettings(BaseModel):
    """Gateway health judged from the status topic (``odczyt gateways watch`` and the ingest service)."""

    heartbeat_s: float = Field(default=60.0, gt=0)  # assumed when a heartbeat does not announce its interval
    offline_after_heartbeats: float = Field(default=3.0, gt=1)  # no heartbeat for N× the interval: offline
    spool_growing_heartbeats: int = Field(default=3, ge=2)  # spool deeper at each of N heartbeats: degraded
    spool_growing_min_frames: int = Field(default=100, ge=0)  # … and at least this deep
    history_hours: float = Field(default=24.0, gt=0)  # heartbeat history kept per gateway


class Settings(BaseSettings):
    """Everything configurable in odczyt."""

    model_config = SettingsConfigDict(
        env_prefix="ODCZYT_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database_url: SecretStr | None = None
    mqtt_url: str | None = None
    master_key: SecretStr | None = None  # encrypts meter AES keys at rest (hex, 32 bytes → AES-256-GCM)
    data_dir: Path = Path("var")
    mqtt: MqttSettings = MqttSettings()
    collector: CollectorSettings = CollectorSettings()
    ingest: IngestSettings = IngestSettings()
    api: ApiSettings = ApiSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    notify: NotifySettings = NotifySettings()
    gateways: GatewaySettings = GatewaySettings()
    billing: BillingSettings = BillingSettings()

    def __init__(self, **values: Any) -> None:
        # ``odczyt --config FILE`` / ODCZYT_ENV_FILE: read that env file instead of ./.env, so a service does not
        # depend on its working directory (an explicit ``_env_file=`` argument still wins)
        if "_env_file" not in values and os.environ.get("ODCZYT_ENV_FILE"):
            values["_env_file"] = os.environ["ODCZYT_ENV_FILE"]
        super().__init__(**values)
