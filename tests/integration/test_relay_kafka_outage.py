"""Rows written while Kafka is down are published once it is back (real broker restart)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import ServiceSettings
from shared.db import create_session_factory
from shared.messaging.relay import OutboxRelay
from shared.uow import SqlUnitOfWork
from tests.conftest import KAFKA_BOOTSTRAP
from tests.integration.conftest import eventually, read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"


class Pinged(BaseModel):
    n: int


def kafka(command: str) -> None:
    subprocess.run([str(KAFKA_SH), command], check=True, timeout=180, capture_output=True)


async def test_relay_publishes_rows_written_while_kafka_was_stopped(
    engine: AsyncEngine, scratch_topic: str, databases: dict[str, ServiceSettings]
) -> None:
    key = str(uuid.uuid4())
    relay = OutboxRelay(
        engine=engine,
        dsn=databases["donation"].asyncpg_dsn,
        bootstrap=KAFKA_BOOTSTRAP,
        service="tests",
        poll_interval_s=0.5,
    )
    await asyncio.to_thread(kafka, "stop")
    task = asyncio.create_task(relay.run())
    try:
        factory = create_session_factory(engine)
        for n in range(5):
            async with SqlUnitOfWork(factory, source="/sunshine/tests") as uow:
                uow.publish(
                    topic=scratch_topic,
                    key=key,
                    type="org.redcross.fenghua.test.pinged.v1",
                    payload=Pinged(n=n),
                )
                await uow.commit()
        await asyncio.sleep(3)

        async def unpublished() -> int:
            async with engine.connect() as conn:
                result = await conn.execute(
                    text("SELECT count(*) FROM outbox WHERE key = :k AND published_at IS NULL"),
                    {"k": key},
                )
                return int(result.scalar_one())

        assert await unpublished() == 5, "nothing can be published while the broker is down"
    finally:
        await asyncio.to_thread(kafka, "start")
    try:

        async def all_published() -> bool:
            return await unpublished() == 0

        await eventually(all_published, timeout=90)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    records: list[Any] = await read_all(scratch_topic, expect=5, timeout=30)
    assert sorted(r.value for r in records) == sorted(f'{{"n":{n}}}'.encode() for n in range(5))
