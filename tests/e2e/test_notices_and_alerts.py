"""End to end, with the three services as real processes and a real local SMTP server
(aiosmtpd):

- a gift posted to the donation service reaches its donor as exactly one e-mail, through the
  private topic and the notification service's delivery worker — also when the request is
  retried with the same Idempotency-Key; a donor who wants no notices gets none;
- warehouse staff set a safety stock for an item a station does not hold: the warehouse
  publishes the level, the notification service raises an out-of-stock alert and e-mails the
  warehouse staff, staff acknowledge it over the API, and it resolves when the safety stock is
  lifted."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from notification.config import NotificationSettings
from shared.config import ServiceSettings
from shared.messaging.topics import all_topics, ensure_topics
from tests import conftest as root
from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


STAFF = "station.keeper@fenghua-redcross.test"


@pytest.fixture(scope="module")
def notices_stack(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    inbox: tuple[Inbox, int],
) -> Iterator[Stack]:
    prefix = f"{root.TOPIC_PREFIX}notices."  # own topics and groups: nobody else takes ours
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


def post_gift(stack: Stack, body: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json=body,
        headers={"Authorization": f"Bearer {token(stack, 'finance')}", "Idempotency-Key": key},
        timeout=10,
    )


def test_a_gift_reaches_its_donor_as_exactly_one_email(
    notices_stack: Stack, inbox: tuple[Inbox, int]
) -> None:
    box, _ = inbox
    address = f"donor.{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "amount_fen": 88800,
        "channel": "wechat_pay",
        "display": "surname",
        "project_code": "BOAI-SWJ",
        "donor": {"name": "陈美玲", "email": address, "phone": "13700004444", "notify": "email"},
    }
    key = str(uuid.uuid4())
    created = post_gift(notices_stack, body, key)
    assert created.status_code == 201, created.text
    gift = created.json()
    assert post_gift(notices_stack, body, key).headers["Idempotent-Replayed"] == "true"

    wait_for(lambda: box.to(address), timeout=45)
    # Give a duplicate every chance to show up before counting.
    time.sleep(2)
    mails = box.to(address)
    assert len(mails) == 1
    mail = mails[0]
    assert str(mail["Subject"]) == "【奉化区红十字会】感谢您的捐赠"
    text = mail.get_content()
    assert text.startswith("尊敬的陈美玲：")
    assert "¥888.00" in text
    assert gift["tracking_code"] in text


def test_a_donor_who_wants_no_notices_gets_none(
    notices_stack: Stack, inbox: tuple[Inbox, int]
) -> None:
    box, _ = inbox
    quiet = f"quiet.{uuid.uuid4().hex[:8]}@example.com"
    loud = f"loud.{uuid.uuid4().hex[:8]}@example.com"
    for address, notify in ((quiet, "none"), (loud, "email")):
        body = {
            "amount_fen": 1000,
            "channel": "cash",
            "donor": {"name": "匿名捐赠人", "email": address, "notify": notify},
        }
        assert post_gift(notices_stack, body, str(uuid.uuid4())).status_code == 201
    # The second gift's e-mail arrives; by then the first one's would have too.
    wait_for(lambda: box.to(loud), timeout=45)
    time.sleep(1)
    assert box.to(quiet) == []


def gauge(stack: Stack) -> dict[tuple[str, str], int]:
    text = httpx.get(stack.url("notification") + "/metrics", timeout=10).text
    found = re.findall(
        r'^sunshine_alerts_open\{kind="(\w+)",state="(\w+)"\} ([0-9.]+)$', text, flags=re.M
    )
    return {(k, st): int(float(v)) for k, st, v in found if float(v)}


async def unresolved_in_database(stack: Stack) -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(stack.settings["notification"].asyncpg_dsn)
    try:
        rows = await conn.fetch(
            "SELECT kind, status, count(*) AS n FROM alerts WHERE resolved_at IS NULL "
            "GROUP BY kind, status"
        )
    finally:
        await conn.close()
    return {(r["kind"], r["status"]): int(r["n"]) for r in rows}


def call(stack: Stack, service: str, method: str, path: str, tok: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
    return httpx.request(method, stack.url(service) + path, headers=headers, timeout=10, **kw)


def test_out_of_stock_alert_end_to_end(notices_stack: Stack, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    keeper = token(notices_stack, "warehouse")
    suffix = uuid.uuid4().hex[:6].upper()
    station, item = f"ST-XK-{suffix}", f"TENT-{suffix}"
    created = call(
        notices_stack,
        "warehouse",
        "POST",
        "/api/v1/warehouses",
        keeper,
        json={"code": station, "name": "溪口镇救灾站", "kind": "station", "town": "溪口镇"},
    )
    assert created.status_code == 201, created.text
    created = call(
        notices_stack,
        "warehouse",
        "POST",
        "/api/v1/items",
        keeper,
        json={"code": item, "name": "救灾帐篷", "category": "shelter", "unit": "顶"},
    )
    assert created.status_code == 201, created.text
    safety = {"warehouse_code": station, "item_code": item, "safety_stock": 10}
    response = call(
        notices_stack, "warehouse", "POST", "/api/v1/safety-stocks", keeper, json=safety
    )
    assert response.status_code == 200, response.text

    def alerts() -> list[dict[str, Any]]:
        page = httpx.get(
            notices_stack.url("notification") + "/api/v1/alerts",
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
        notices_stack,
        "notification",
        "POST",
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        keeper,
        json={"note": "已从区仓库调拨 20 顶"},
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"

    # The open-alerts gauge of a freshly started process is computed from the database.
    process = notices_stack.processes["notification"]
    process.terminate()
    process.wait(timeout=20)
    notices_stack.start("notification")
    notices_stack.wait_ready()
    expected = asyncio.run(unresolved_in_database(notices_stack))
    wait_for(lambda: gauge(notices_stack) == expected, timeout=15)
    assert expected.get(("out_of_stock", "acknowledged"), 0) >= 1

    lifted = safety | {"safety_stock": 0}
    response = call(
        notices_stack, "warehouse", "POST", "/api/v1/safety-stocks", keeper, json=lifted
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: alerts()[0]["status"] == "resolved", timeout=45)
