"""End to end, with the services as real processes: a gift posted to the donation service
reaches its donor as exactly one e-mail at a real local SMTP server (aiosmtpd), through the
private topic and the notification service's delivery worker — also when the request is
retried with the same Idempotency-Key. A donor who wants no notices gets none."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

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


@pytest.fixture(scope="module")
def notices_stack(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    inbox: tuple[Inbox, int],
) -> Iterator[Stack]:
    # Own topics and consumer groups, so no other running instance takes our notices.
    prefix = f"{root.TOPIC_PREFIX}notices."
    topics = all_topics(prefix)
    asyncio.run(ensure_topics(root.KAFKA_BOOTSTRAP, topics))
    root._extra_topics.extend(topics)
    notification = databases["notification"]
    assert isinstance(notification, NotificationSettings)
    settings = {
        "donation": databases["donation"].model_copy(update={"topic_prefix": prefix}),
        "notification": notification.model_copy(
            update={
                "topic_prefix": prefix,
                "smtp_port": inbox[1],
                "enabled_channels": ["email"],
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
