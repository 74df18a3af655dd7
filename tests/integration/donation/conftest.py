"""The donation service in process (real PostgreSQL, real Kafka, its relay and consumers
running), an HTTP client for it, staff tokens for any name and role, and a collector that
reads everything the service publishes on this run's topics.

Package-scoped: the service (and its outbox relay) stops when this package's tests are done,
so it never claims outbox rows that later tests of the session write and relay themselves."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from donation.main import create_app
from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from shared.messaging.envelope import CloudEvent, from_kafka
from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX

pytestmark = pytest.mark.integration


@dataclass
class EventLog:
    """Every CloudEvent seen on the collected topics, in arrival order."""

    events: list[tuple[str, CloudEvent]] = field(default_factory=list)

    def of(self, type_: str, **match: Any) -> list[CloudEvent]:
        return [
            e
            for _, e in self.events
            if e.type == type_ and all(e.data.get(k) == v for k, v in match.items())
        ]

    def on(self, topic: str) -> list[CloudEvent]:
        return [e for t, e in self.events if t == TOPIC_PREFIX + topic]

    async def wait(
        self, type_: str, count: int = 1, timeout: float = 20, **match: Any
    ) -> list[CloudEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(type_, **match)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"{count}× {type_} {match} not published within {timeout}s")


@pytest.fixture(scope="package")
async def event_log(kafka_topics: list[str]) -> AsyncIterator[EventLog]:
    log = EventLog()
    consumer = AIOKafkaConsumer(
        TOPIC_PREFIX + DONATION_EVENTS,
        TOPIC_PREFIX + DONATION_PRIVATE,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()

    async def collect() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    log.events.append((tp.topic, from_kafka(record.headers, record.value)))

    task = asyncio.create_task(collect())
    yield log
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    # a loaded broker may time out while we leave: nothing of the test depends on it
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(consumer.stop(), timeout=10)


@dataclass
class Api:
    client: httpx.AsyncClient
    issuer: TokenIssuer
    settings: ServiceSettings
    app: Any = None

    def public_client(self, address: str) -> httpx.AsyncClient:
        """A client seen by the service as coming from ``address`` (per-client rate limits)."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://donation")

    def headers(self, user: str, *roles: str, key: str | None = None) -> dict[str, str]:
        token = self.issuer.issue(
            StaffPrincipal(username=user, roles=frozenset(roles or (user,)), display_name=user)
        )
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def call(
        self, method: str, path: str, user: str = "finance", *roles: str, **kwargs: Any
    ) -> httpx.Response:
        headers = self.headers(user, *roles) | kwargs.pop("headers", {})
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(
        self, method: str, path: str, user: str = "finance", *roles: str, **kwargs: Any
    ) -> Any:
        response = await self.call(method, path, user, *roles, **kwargs)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()


@pytest.fixture(scope="package")
async def api(
    databases: dict[str, ServiceSettings], kafka_topics: list[str], keys_dir: Path
) -> AsyncIterator[Api]:
    settings = databases["donation"]
    app = create_app(settings)  # type: ignore[arg-type]
    issuer = TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=1),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://donation") as client:
            yield Api(client, issuer, settings, app)


def gift(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "money",
        "amount_fen": 10000,
        "channel": "wechat_pay",
        "display": "surname",
        "donor": {"name": "王建国", "phone": "13800001111"},
    }
    body.update(overrides)
    return body


_counter = iter(range(1, 1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}{int(time.time() * 1000) % 10_000_000}{next(_counter)}"


async def new_project(api: Api, **overrides: Any) -> dict[str, Any]:
    body = {
        "code": unique("T-"),
        "name": "测试项目",
        "category": "other",
        "description": "integration test",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
    } | overrides
    result: dict[str, Any] = await api.ok("POST", "/api/v1/projects", json=body)
    return result


Check = Callable[[], Any]
