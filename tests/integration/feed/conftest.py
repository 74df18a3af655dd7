"""A notification service run in-process (uvicorn, real lifespan) against its own database
and its own topics on the real broker; events are produced straight to the topics."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from notification.config import NotificationSettings
from notification.main import MIGRATIONS, create_app
from shared.auth import generate_keypair
from shared.contracts import donation as d
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import create_producer
from shared.messaging.topics import all_topics, delete_topics, ensure_topics
from tests.conftest import (
    DB_SUFFIX,
    KAFKA_BOOTSTRAP,
    PG_PASSWORD,
    PG_PORT,
    PORT_BASE,
    TOPIC_PREFIX,
    _reset_database,
)

pytestmark = pytest.mark.integration

_counter = itertools.count(1)


@dataclass
class FeedStack:
    settings: NotificationSettings
    url: str
    producer: AIOKafkaProducer
    http: httpx.AsyncClient
    sent: list[CloudEvent] = field(default_factory=list)

    async def publish(
        self,
        type_: str,
        payload: BaseModel | dict[str, Any],
        *,
        key: str,
        topic: str = "donation.events",
        at: datetime | None = None,
    ) -> CloudEvent:
        if isinstance(payload, BaseModel):
            data = payload.model_dump(mode="json")
        else:
            data = json.loads(json.dumps(payload, default=str))
        event = CloudEvent(
            id=str(uuid7()),
            type=type_,
            source="/sunshine/" + topic.split(".")[0],
            time=at or datetime.now(UTC),
            data=data,
            subject=key,
        )
        await self.producer.send_and_wait(
            self.settings.topic(topic),
            value=event.value(),
            key=key.encode(),
            headers=event.headers(),
        )
        self.sent.append(event)
        return event

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings.asyncpg_dsn)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def entries(self) -> int:
        conn = await self.db()
        try:
            return int(await conn.fetchval("SELECT count(*) FROM feed_entries"))
        finally:
            await conn.close()

    async def wait_for_entries(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (count := await self.entries()) < n:
            assert time.monotonic() < deadline, f"only {count} of {n} entries after {timeout}s"
            await asyncio.sleep(0.1)

    async def wait_for_head(self, size: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.http.get("/api/v1/public/tree-head")
            if response.status_code == 200 and response.json()["tree_size"] >= size:
                head: dict[str, Any] = response.json()
                return head
            assert time.monotonic() < deadline, f"no signed head of size {size}: {response.text}"
            await asyncio.sleep(0.1)


def project(code: str, name: str, *, town: str | None) -> d.ProjectOpenedV1:
    return d.ProjectOpenedV1(
        project_code=code,
        name=name,
        category="song_wan_jia",
        town=town,
        description=f"{name}：走访慰问困难家庭",
        starts_on=datetime(2026, 1, 1, tzinfo=UTC).date(),
        ends_on=None,
        budget_fen=10_000_000,
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def feed_settings(
    tmp: Path, name: str, port: int, prefix: str, settle_s: float = 2.0
) -> NotificationSettings:
    generate_keypair(tmp)  # never rely on a developer's .local/keys: CI starts without one
    return NotificationSettings(
        environment="test",
        db_name=f"notification_test{DB_SUFFIX}_{name}",
        db_port=PG_PORT,
        db_password=PG_PASSWORD,
        db_pool_size=5,
        kafka_bootstrap=KAFKA_BOOTSTRAP,
        topic_prefix=prefix,
        port=port,
        run_relay=False,
        log_signing_key_file=tmp / "feed_log_signing.pem",
        jwt_public_key_file=tmp / "jwt_public.pem",
        log_checkpoint_interval_s=0.3,
        log_settle_s=settle_s,  # entries from all partitions are in before they are ordered
        major_disaster_refs=["TY-2026-14", "YJJZ-2026-TY"],
        run_delivery=False,
    )


async def serve(settings: NotificationSettings) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert not task.done(), "notification app failed to start"
        assert time.monotonic() < deadline, "notification app did not start"
        await asyncio.sleep(0.05)
    return server, task


@pytest.fixture(scope="module")
async def feed_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FeedStack]:
    """One service per test module; a module may set ``FEED_SETTLE_S``."""
    n = next(_counter)
    prefix = f"{TOPIC_PREFIX}feed{n}{uuid.uuid4().hex[:4]}."
    topics = all_topics(prefix)
    await ensure_topics(KAFKA_BOOTSTRAP, topics, timeout_s=30)
    settings = feed_settings(
        tmp_path_factory.mktemp("feedkeys"),
        f"m{n}",
        PORT_BASE + 40 + n,
        prefix,
        settle_s=getattr(request.module, "FEED_SETTLE_S", 2.0),
    )
    await _reset_database(settings, MIGRATIONS)
    server, task = await serve(settings)
    producer = create_producer(KAFKA_BOOTSTRAP)
    await producer.start()
    url = f"http://127.0.0.1:{settings.port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        stack = FeedStack(settings=settings, url=url, producer=producer, http=http)
        # a first fact, waited for: the consumer has joined its group, so later facts are
        # consumed within milliseconds and the live log order follows event time
        await stack.publish(
            d.PROJECT_OPENED, project("BOAI-SWJ", "博爱送万家", town=None), key="BOAI-SWJ"
        )
        await stack.wait_for_entries(1, timeout=60)
        try:
            yield stack
        finally:
            await producer.stop()
            server.should_exit = True
            await asyncio.wait_for(task, 30)
            await delete_topics(KAFKA_BOOTSTRAP, topics)
