"""A real SMTP server (aiosmtpd), a real HTTP receiver, and the notification service running
in-process against the real broker and database, for the alert and notice tests. All of them
live as long as this package's tests (``scope="package"``), then stop."""

from __future__ import annotations

import contextlib
import email
import json
import logging
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.config import NotificationSettings
from notification.main import create_app
from shared.auth import StaffPrincipal, TokenIssuer
from shared.config import ServiceSettings
from shared.db import create_engine
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import all_topics, ensure_topics
from tests import conftest as root
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX

WEBHOOK_SECRET = "alerts-test-webhook-secret"
STAFF_EMAIL = "warehouse.staff@fenghua-redcross.test"
# Own topics and consumer groups: other tests' notification services (e2e processes) use the
# run's common prefix and must not share partitions with the one started here.
PREFIX = f"{TOPIC_PREFIX}alerts-it."
BOSS_EMAIL = "warehouse.chief@fenghua-redcross.test"


logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- SMTP


@dataclass
class Mailbox:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("refused."):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="package")
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, mailbox)
    finally:
        controller.stop()


# --------------------------------------------------------------------------- HTTP receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # path → status codes to answer, one per request, then 200
    script: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def next_status(self, path: str) -> int:
        with self.lock:
            queue = self.script.get(path)
            return queue.pop(0) if queue else 200


@pytest.fixture(scope="package")
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = state.next_status(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the service


@pytest.fixture(scope="package")
async def alert_topics(kafka_topics: list[str]) -> list[str]:
    names = all_topics(PREFIX)
    await ensure_topics(KAFKA_BOOTSTRAP, names, timeout_s=30)
    root._extra_topics.extend(names)  # deleted with the run's topics
    return names


@pytest.fixture(scope="package")
def alert_settings(
    databases: dict[str, ServiceSettings],
    smtp_server: SmtpServer,
    receiver: Receiver,
) -> NotificationSettings:
    base = databases["notification"]
    assert isinstance(base, NotificationSettings)
    return base.model_copy(
        update={
            "topic_prefix": PREFIX,
            "run_feed_log": False,  # the feed's log is not ours to sequence in these tests
            "run_relay": False,
            "enabled_channels": ["email", "webhook", "sms"],
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "webhook_secret": SecretStr(WEBHOOK_SECRET),
            "sms_gateway_url": receiver.url + "/sms",
            "alert_emails": [STAFF_EMAIL],
            "alert_webhook_urls": [receiver.url + "/staff-hook"],
            "escalation_emails": [BOSS_EMAIL],
            "alert_escalation_minutes": 60.0,
            "alert_check_interval_s": 0.3,
            "delivery_backoff_s": 0.05,
            "delivery_backoff_max_s": 0.2,
            "delivery_max_attempts": 3,
            "delivery_poll_interval_s": 0.3,
            "consumer_max_attempts": 2,
        }
    )


@pytest.fixture(scope="package")
async def notification_app(
    alert_settings: NotificationSettings, alert_topics: list[str]
) -> AsyncIterator[FastAPI]:
    app = create_app(alert_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="package")
async def api(notification_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=notification_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
        yield client


@pytest.fixture(scope="package")
def issuer(keys_dir: Path) -> TokenIssuer:
    return TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer="sunshine",
        audience="sunshine-staff",
        ttl=timedelta(hours=1),
    )


@pytest.fixture(scope="package")
def bearer(issuer: TokenIssuer) -> Any:
    def make(role: str, username: str | None = None) -> dict[str, str]:
        token = issuer.issue(StaffPrincipal(username or role, frozenset({role})))
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture(scope="package")
async def db(alert_settings: NotificationSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(alert_settings, application_name="alert-tests")
    yield engine
    await engine.dispose()


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [dict(r._mapping) for r in result]


# --------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="package")
async def producer(alert_topics: list[str]) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await p.start()
    yield p
    with contextlib.suppress(Exception):
        await p.stop()


def cloud_event(
    type_: str,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    source: str = "/sunshine/warehouse",
) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        type=type_,
        source=source,
        time=at or datetime.now(UTC),
        data=payload,
    )


async def send(producer: AIOKafkaProducer, topic: str, key: str, *events: CloudEvent) -> None:
    for event in events:
        await producer.send_and_wait(
            PREFIX + topic, value=event.value(), key=key.encode(), headers=event.headers()
        )
