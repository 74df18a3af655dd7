"""The fault suite's own infrastructure and services (see harness.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from donation.config import DonationSettings
from donation.main import MIGRATIONS as DONATION_MIGRATIONS
from notification.config import NotificationSettings
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from shared.messaging.topics import all_topics, ensure_topics
from tests.conftest import PG_PASSWORD, PG_PORT, _reset_database
from tests.faults.harness import (
    BOOTSTRAP,
    CONSUMER_PG_PORT,
    Service,
    consumer_postgres,
    kafka,
)
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS as WAREHOUSE_MIGRATIONS

pytestmark = pytest.mark.faults

FULL = os.environ.get("SUNSHINE_FAULT_SIZE", "reduced") == "full"
GIFTS = 2000 if FULL else 80
RATE = 100.0 if FULL else 40.0
PG_OUTAGE_S = 30.0 if FULL else 5.0
PORT_BASE = int(os.environ.get("SUNSHINE_FAULT_PORT_BASE", "27000"))


@dataclass
class FaultStack:
    donation: Service
    notification: Service
    warehouse: Service
    donation_settings: DonationSettings
    notification_settings: NotificationSettings
    warehouse_settings: WarehouseSettings

    def all(self) -> list[Service]:
        return [self.donation, self.notification, self.warehouse]

    async def token(self) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self.donation.url + "/api/v1/auth/token",
                data={"username": "finance", "password": "sunshine-demo"},
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
async def fault_stack(keys_dir: Path) -> AsyncIterator[FaultStack]:
    await asyncio.to_thread(kafka, "start")
    try:
        await asyncio.to_thread(consumer_postgres, "start")
    except BaseException:
        await asyncio.to_thread(kafka, "stop")  # never leave the suite's broker behind
        raise
    common: dict[str, Any] = {
        "environment": "test",
        "db_password": PG_PASSWORD,
        "kafka_bootstrap": BOOTSTRAP,
        "topic_prefix": "faults.",
        "jwt_public_key_file": keys_dir / "jwt_public.pem",
        "relay_poll_interval_s": 0.5,
        "log_level": "WARNING",
    }
    donation = DonationSettings(
        db_name="donation_test_faults",
        db_port=PG_PORT,
        port=PORT_BASE + 1,
        jwt_private_key_file=keys_dir / "jwt_private.pem",
        **common,
    )
    warehouse = WarehouseSettings(
        db_name="warehouse_faults", db_port=CONSUMER_PG_PORT, port=PORT_BASE + 2, **common
    )
    notification = NotificationSettings(
        db_name="notification_faults", db_port=CONSUMER_PG_PORT, port=PORT_BASE + 3, **common
    )
    await _reset_database(donation, DONATION_MIGRATIONS)
    await _reset_database(warehouse, WAREHOUSE_MIGRATIONS)
    await _reset_database(notification, NOTIFICATION_MIGRATIONS)
    await ensure_topics(BOOTSTRAP, all_topics("faults."))
    stack = FaultStack(
        donation=Service("donation", donation),
        notification=Service("notification", notification),
        warehouse=Service("warehouse", warehouse),
        donation_settings=donation,
        notification_settings=notification,
        warehouse_settings=warehouse,
    )
    try:
        yield stack
    finally:
        for service in stack.all():
            service.stop()
        await asyncio.to_thread(kafka, "stop")
        await asyncio.to_thread(consumer_postgres, "stop")


@pytest.fixture(autouse=True)
async def disarm_faults(fault_stack: FaultStack) -> AsyncIterator[None]:
    """Each scenario starts from healthy services: nothing armed is carried into the next."""
    yield
    for service in fault_stack.all():
        if service.faults_armed or not service.alive():
            service.stop()
            service.start()
    for service in fault_stack.all():
        await service.wait_live()
