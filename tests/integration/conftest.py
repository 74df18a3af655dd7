"""Fixtures for messaging tests against the real broker and database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import ServiceSettings
from shared.db import create_engine
from tests.conftest import KAFKA_BOOTSTRAP

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(databases: dict[str, ServiceSettings]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(databases["donation"], application_name="tests")
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS it_business (id UUID PRIMARY KEY, note TEXT NOT NULL)")
        )
    yield engine
    await engine.dispose()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def committed_offset(group: str, topic: str, partition: int = 0) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    for tp, meta in offsets.items():
        if tp.topic == topic and tp.partition == partition:
            return int(meta.offset)
    return -1


async def read_all(topic: str, *, expect: int, timeout: float = 20) -> list[object]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA_BOOTSTRAP, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[object] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records
