"""Notification service settings (environment prefix ``NOTIFICATION_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from notification.feed_settings import FeedLogSettings
from shared.config import ServiceSettings


class NotificationSettings(ServiceSettings, FeedLogSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    service_name: str = "notification"
    port: int = 8003
    db_name: str = "notification"
