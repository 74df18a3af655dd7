"""The warehouse service in-process (its relay and consumers running) against the real
PostgreSQL and Kafka, an HTTP client with staff tokens, and a log of every event it publishes
(read back from this run's prefixed ``warehouse.events`` topic)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from shared.messaging.topics import WAREHOUSE_EVENTS
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX
from tests.integration.conftest import eventually
from warehouse.config import WarehouseSettings
from warehouse.main import create_app

pytestmark = pytest.mark.integration


@dataclass
class Event:
    type: str
    key: str
    subject: str | None
    data: dict[str, Any]
    headers: dict[str, str]


@dataclass
class EventLog:
    events: list[Event] = field(default_factory=list)

    def of(self, type_suffix: str, **match: Any) -> list[Event]:
        found = []
        for e in self.events:
            if not e.type.endswith(type_suffix):
                continue
            if all(e.data.get(k) == v for k, v in match.items()):
                found.append(e)
        return found

    async def wait(
        self, type_suffix: str, count: int = 1, timeout: float = 20, **match: Any
    ) -> list[Event]:
        async def enough() -> bool:
            return len(self.of(type_suffix, **match)) >= count

        await eventually(enough, timeout=timeout, interval=0.05)
        return self.of(type_suffix, **match)


@pytest.fixture(scope="session")
async def warehouse_events(kafka_topics: list[str]) -> AsyncIterator[EventLog]:
    log = EventLog()
    consumer = AIOKafkaConsumer(
        TOPIC_PREFIX + WAREHOUSE_EVENTS,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()

    async def collect() -> None:
        async for record in consumer:
            headers = {k: v.decode() for k, v in record.headers}
            log.events.append(
                Event(
                    type=headers.get("ce_type", ""),
                    key=record.key.decode() if record.key else "",
                    subject=headers.get("ce_subject"),
                    data=json.loads(record.value),
                    headers=headers,
                )
            )

    task = asyncio.create_task(collect())
    yield log
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await consumer.stop()


@pytest.fixture(scope="session")
def wh_settings(databases: dict[str, ServiceSettings]) -> WarehouseSettings:
    settings = databases["warehouse"]
    assert isinstance(settings, WarehouseSettings)
    return settings.model_copy(
        update={
            "run_expiry_scan": False,
            "run_preparedness_sweep": False,
            "db_pool_size": 20,
            "relay_poll_interval_s": 0.2,
        }
    )


@pytest.fixture(scope="session")
async def wh_app(
    wh_settings: WarehouseSettings, kafka_topics: list[str], warehouse_events: EventLog
) -> AsyncIterator[FastAPI]:
    app = create_app(wh_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
def issuer(keys_dir: Path, wh_settings: WarehouseSettings) -> TokenIssuer:
    return TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=wh_settings.jwt_issuer,
        audience=wh_settings.jwt_audience,
        ttl=timedelta(hours=1),
    )


class Api:
    """An HTTP client for the in-process app; ``as_(user)`` picks the staff member."""

    def __init__(self, client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
        self.client = client
        self.issuer = issuer

    def token(self, username: str, *roles: str) -> dict[str, str]:
        roles = roles or (username.rstrip("0123456789"),)
        token = self.issuer.issue(StaffPrincipal(username, frozenset(roles)))
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, user: str, *, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = self.token(user) | kw.pop("headers", {})
        if key:
            headers["Idempotency-Key"] = key
        return await self.client.request(method, path, headers=headers, **kw)

    async def ok(self, method: str, path: str, user: str, status: int = 200, **kw: Any) -> Any:
        response = await self.call(method, path, user, **kw)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture(scope="session")
async def api(wh_app: FastAPI, issuer: TokenIssuer) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=wh_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as client:
        yield Api(client, issuer)


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass
class Place:
    code: str
    town: str | None


async def make_warehouse(api: Api, *, kind: str = "district", town: str | None = "岳林街道") -> str:
    code = uniq("WH")
    await api.ok(
        "POST",
        "/api/v1/warehouses",
        "warehouse",
        201,
        json={"code": code, "name": f"测试仓库{code}", "kind": kind, "town": town},
    )
    return code


async def make_item(
    api: Api,
    *,
    lot_tracked: bool = False,
    category: str = "food",
    safety: int = 0,
    unit: str = "箱",
) -> str:
    code = uniq("IT")
    await api.ok(
        "POST",
        "/api/v1/items",
        "warehouse",
        201,
        json={
            "code": code,
            "name": f"测试物资{code}",
            "category": category,
            "unit": unit,
            "lot_tracked": lot_tracked,
            "unit_value_fen": 1000,
            "default_safety_stock": safety,
        },
    )
    return code


async def receive(
    api: Api, warehouse: str, lines: list[dict[str, Any]], order: str | None = None
) -> dict[str, Any]:
    """A procurement receipt, announced then confirmed as announced."""
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": warehouse,
            "procurement_order": order or uniq("PO"),
            "lines": lines,
        },
    )
    confirmed: dict[str, Any] = await api.ok(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={
            "lines": [
                {"line_no": n, "received_quantity": line["quantity"]}
                for n, line in enumerate(lines, start=1)
            ]
        },
    )
    return confirmed


async def dispatch_to(
    api: Api,
    warehouse: str,
    lines: list[tuple[str, int]],
    *,
    destination: dict[str, Any] | None = None,
    requester: str = "dispatcher",
) -> dict[str, Any]:
    body = {
        "from_warehouse_code": warehouse,
        "destination": destination
        or {"kind": "shelter", "name": "溪口镇中心小学安置点", "town": "溪口镇"},
        "incident_code": "TY-TEST",
        "incident_name": "测试台风",
        "urgency": "urgent",
        "lines": [{"item_code": c, "quantity": q} for c, q in lines],
    }
    created: dict[str, Any] = await api.ok("POST", "/api/v1/dispatches", requester, 201, json=body)
    return created


Step = Callable[..., Awaitable[Any]]
