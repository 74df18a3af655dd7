"""Notification service settings (environment prefix ``NOTIFICATION_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from notification.feed_settings import FeedLogSettings
from shared.config import ServiceSettings

DEFAULT_WEBHOOK_SECRET = "sunshine-local-webhook-secret"  # noqa: S105 - local default, refused in production


class NotificationSettings(ServiceSettings, FeedLogSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    service_name: str = "notification"
    port: int = 8003
    db_name: str = "notification"

    # --- notices: channels -------------------------------------------------------------
    # Channel names from the registry (notification.channels.registry): email, webhook, sms,
    # wechat, plus any added with ``channel_plugins``.
    enabled_channels: list[str] = Field(default_factory=lambda: ["email", "webhook"])
    channel_plugins: list[str] = Field(default_factory=list)  # "name=package.module:factory"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "阳光红会 <noreply@fenghua-redcross.local>"
    smtp_timeout_s: float = 10.0
    webhook_secret: SecretStr = SecretStr(DEFAULT_WEBHOOK_SECRET)
    webhook_timeout_s: float = 10.0
    sms_gateway_url: str | None = None
    wechat_gateway_url: str | None = None

    # --- notices: delivery -------------------------------------------------------------
    run_delivery: bool = True
    delivery_max_attempts: int = 6
    delivery_backoff_s: float = 5.0
    delivery_backoff_max_s: float = 900.0
    delivery_poll_interval_s: float = 1.0
    delivery_batch_size: int = 20
    contact_retention_hours: float = 48.0

    # --- stock alerts ------------------------------------------------------------------
    alert_emails: list[str] = Field(default_factory=list)
    alert_webhook_urls: list[str] = Field(default_factory=list)
    escalation_emails: list[str] = Field(default_factory=list)
    # Per warehouse or station: "WAREHOUSE_CODE=channel:address" (e.g. its keeper's e-mail).
    alert_routes: list[str] = Field(default_factory=list)
    alert_escalation_minutes: float = 240.0
    alert_check_interval_s: float = 30.0

    @model_validator(mode="after")
    def _refuse_default_webhook_secret(self) -> NotificationSettings:
        if (
            self.environment == "production"
            and self.webhook_secret.get_secret_value() == DEFAULT_WEBHOOK_SECRET
        ):
            raise ValueError(
                "refusing to start in production with the default webhook secret; "
                "set NOTIFICATION_WEBHOOK_SECRET"
            )
        return self
