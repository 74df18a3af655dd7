"""Background work of alerts and notices, started in the app's lifespan: the notice delivery
worker and the alert monitor (escalation, open-alerts gauge)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from notification.channels.registry import build_channels
from notification.config import NotificationSettings
from notification.service_layer.delivery import DeliveryWorker
from notification.service_layer.monitor import AlertMonitor
from notification.service_layer.notices import Routing
from shared.runtime import ServiceRuntime, supervised


async def start_alert_and_notice_workers(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    channels = build_channels(settings)  # an unknown or misconfigured channel stops start-up
    if not settings.run_delivery:
        for channel in channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()
        return
    worker = DeliveryWorker(
        engine=runtime.engine,
        dsn=settings.asyncpg_dsn,
        channels=channels,
        max_attempts=settings.delivery_max_attempts,
        backoff_s=settings.delivery_backoff_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        poll_interval_s=settings.delivery_poll_interval_s,
        batch_size=settings.delivery_batch_size,
        retention=timedelta(hours=settings.contact_retention_hours),
    )
    monitor = AlertMonitor(
        session_factory=runtime.session_factory,
        dsn=settings.asyncpg_dsn,
        routing=Routing.from_settings(settings),
        escalate_after=timedelta(minutes=settings.alert_escalation_minutes),
        check_interval_s=settings.alert_check_interval_s,
    )
    runtime.extras["delivery_worker"] = worker
    runtime.extras["alert_monitor"] = monitor
    runtime.tasks.append(supervised(worker.run, "notice-delivery"))
    runtime.tasks.append(supervised(monitor.run, "alert-monitor"))
