"""Notification service app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from notification.config import NotificationSettings
from notification.entrypoints import web
from notification.entrypoints.api import alerts, notices, public, transparency
from notification.entrypoints.consumers import build_consumers
from notification.entrypoints.workers import start_alert_and_notice_workers
from notification.service_layer.feed_runtime import start_feed
from shared.runtime import ServiceRuntime, create_service_app

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def _startup(runtime: ServiceRuntime) -> None:
    await start_feed(runtime)
    await start_alert_and_notice_workers(runtime)


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or NotificationSettings(),
        title="Sunshine 阳光红会 · 公示与通知服务 Notification service",
        description="The public disclosure feed, stock alerts and notices, built from events.",
        routers=[public.router, transparency.router, alerts.router, notices.router, web.router],
        consumers=build_consumers,
        on_startup=_startup,
    )
