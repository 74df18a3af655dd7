"""End to end, with the services as real processes: warehouse staff set a safety stock for an
item the station does not hold; the warehouse publishes the level, the notification service
raises an out-of-stock alert, e-mails the warehouse staff (real local SMTP server), staff
acknowledge it over the API, and it resolves when the safety stock is lifted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from notification.config import NotificationSettings
from shared.config import ServiceSettings
from shared.messaging.topics import all_topics, ensure_topics
from tests import conftest as root
from tests.e2e.conftest import Stack, token, wait_for
from tests.e2e.test_notices_email import Inbox, inbox  # noqa: F401 - the SMTP fixture

pytestmark = pytest.mark.e2e

STAFF = "station.keeper@fenghua-redcross.test"


@pytest.fixture(scope="module")
def alerts_stack(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    inbox: tuple[Inbox, int],  # noqa: F811
) -> Iterator[Stack]:
    prefix = f"{root.TOPIC_PREFIX}alerts."
    topics = all_topics(prefix)
    asyncio.run(ensure_topics(root.KAFKA_BOOTSTRAP, topics))
    root._extra_topics.extend(topics)
    notification = databases["notification"]
    assert isinstance(notification, NotificationSettings)
    settings = {
        "donation": databases["donation"].model_copy(update={"topic_prefix": prefix}),
        "warehouse": databases["warehouse"].model_copy(update={"topic_prefix": prefix}),
        "notification": notification.model_copy(
            update={
                "topic_prefix": prefix,
                "smtp_port": inbox[1],
                "enabled_channels": ["email"],
                "alert_emails": [STAFF],
                "delivery_poll_interval_s": 0.5,
            }
        ),
    }
    running = Stack(settings)
    for service in settings:
        running.start(service)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def call(stack: Stack, service: str, method: str, path: str, tok: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
    return httpx.request(method, stack.url(service) + path, headers=headers, timeout=10, **kw)


def test_out_of_stock_alert_end_to_end(alerts_stack: Stack, inbox: tuple[Inbox, int]) -> None:  # noqa: F811
    box, _ = inbox
    keeper = token(alerts_stack, "warehouse")
    suffix = uuid.uuid4().hex[:6].upper()
    station, item = f"ST-XK-{suffix}", f"TENT-{suffix}"
    created = call(
        alerts_stack,
        "warehouse",
        "POST",
        "/api/v1/warehouses",
        keeper,
        json={"code": station, "name": "溪口镇救灾站", "kind": "station", "town": "溪口镇"},
    )
    assert created.status_code == 201, created.text
    created = call(
        alerts_stack,
        "warehouse",
        "POST",
        "/api/v1/items",
        keeper,
        json={"code": item, "name": "救灾帐篷", "category": "shelter", "unit": "顶"},
    )
    assert created.status_code == 201, created.text
    safety = {"warehouse_code": station, "item_code": item, "safety_stock": 10}
    response = call(alerts_stack, "warehouse", "POST", "/api/v1/safety-stocks", keeper, json=safety)
    assert response.status_code == 200, response.text

    def alerts() -> list[dict[str, Any]]:
        page = httpx.get(
            alerts_stack.url("notification") + "/api/v1/alerts",
            params={"item_code": item},
            headers={"Authorization": f"Bearer {keeper}"},
            timeout=10,
        )
        assert page.status_code == 200, page.text
        return list(page.json()["items"])

    found = wait_for(alerts, timeout=45)
    assert isinstance(found, list)
    assert len(found) == 1
    alert: dict[str, Any] = found[0]
    assert (alert["kind"], alert["status"], alert["warehouse_code"]) == (
        "out_of_stock",
        "open",
        station,
    )
    wait_for(lambda: [m for m in box.to(STAFF) if item in m.get_content()], timeout=30)
    (mail,) = [m for m in box.to(STAFF) if item in m.get_content()]
    assert str(mail["Subject"]) == "【库存预警】溪口镇救灾站 救灾帐篷：缺货"

    acked = call(
        alerts_stack,
        "notification",
        "POST",
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        keeper,
        json={"note": "已从区仓库调拨 20 顶"},
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"

    lifted = safety | {"safety_stock": 0}
    response = call(alerts_stack, "warehouse", "POST", "/api/v1/safety-stocks", keeper, json=lifted)
    assert response.status_code == 200, response.text
    wait_for(lambda: alerts()[0]["status"] == "resolved", timeout=45)
