"""The three services in-process (real app factories, real lifespans) with only their Kafka
consumers running, against the real broker and real PostgreSQL, for the malformed-message
tests.

Which consumers exist is read from the running apps (``app.state.runtime.consumers``, built by
each service's ``build_consumers``), never listed by hand. The services get their own topics
(``<run prefix>malformed.``) and their own databases (``<test database>_mal``): malformed
records and probe events must not reach other packages' services or their assertions (the
warehouse tests' session-wide app consumes the run's common topics; the alert tests count
alerts of the contracts' example warehouse).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from donation.main import MIGRATIONS as DONATION_MIGRATIONS
from donation.main import create_app as create_donation_app
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from notification.main import create_app as create_notification_app
from shared.config import ServiceSettings
from shared.contracts import EVENT_TYPES
from shared.db import create_engine
from shared.messaging.consumer import DLQ_SUFFIX, ConsumerRunner
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import BASE_TOPICS, all_topics, ensure_topics
from tests import conftest as root
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX, _reset_database
from tests.integration.conftest import eventually
from warehouse.main import MIGRATIONS as WAREHOUSE_MIGRATIONS
from warehouse.main import create_app as create_warehouse_app

pytestmark = pytest.mark.integration

PREFIX = f"{TOPIC_PREFIX}malformed."

AppFactory = Callable[[Any], FastAPI]
# service → its app factory, its migrations, and what it must not run besides its consumers
SERVICES: dict[str, tuple[AppFactory, Path, dict[str, Any]]] = {
    "donation": (create_donation_app, DONATION_MIGRATIONS, {"seed_demo_staff": False}),
    "warehouse": (
        create_warehouse_app,
        WAREHOUSE_MIGRATIONS,
        {"run_expiry_scan": False, "run_preparedness_sweep": False},
    ),
    "notification": (
        create_notification_app,
        NOTIFICATION_MIGRATIONS,
        {"run_feed_log": False, "run_delivery": False},
    ),
}


@dataclass(frozen=True)
class Subscription:
    """One (service, consumer group, topic) of a running app."""

    service: str
    group: str  # the consumer group, as the app names it (prefixed)
    topic: str  # the base topic name (unprefixed)
    handled: frozenset[str]  # the event types this consumer applies
    runner: ConsumerRunner
    task: asyncio.Task[None]

    @property
    def label(self) -> str:
        return f"{self.service}/{self.group.removeprefix(PREFIX)}/{self.topic}"

    @property
    def probe_type(self) -> str:
        """A type this consumer applies, published on this topic (from the contracts)."""
        for contract in EVENT_TYPES.values():
            if contract.topic == self.topic and contract.type in self.handled:
                return contract.type
        raise AssertionError(f"{self.label}: handles no contract type of {self.topic}")


def subscriptions_of(apps: dict[str, FastAPI]) -> list[Subscription]:
    """Every consumer of every running app, one entry per topic it reads."""
    found = []
    for service, app in apps.items():
        runtime = app.state.runtime
        tasks = {task.get_name(): task for task in runtime.tasks}
        for runner in runtime.consumers:
            for topic in runner._topics:
                found.append(
                    Subscription(
                        service=service,
                        group=runner.name,
                        topic=topic.removeprefix(PREFIX),
                        handled=frozenset(runner._handlers),
                        runner=runner,
                        task=tasks[runner.name],
                    )
                )
    return found


class CrashWatch(logging.Handler):
    """Signs that a consumer no longer moves on: the runtime supervisor's 'background task ...
    crashed; restarting' lines, and the runner's 'DLQ publish failed, retrying' warnings (a
    dead letter the broker refuses is retried without end)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "sunshine.consumer" and "DLQ publish failed" not in message:
            return
        if record.name == "sunshine.runtime" and record.levelno < logging.ERROR:
            return
        exc = record.exc_info[1] if record.exc_info else None
        self.crashes.append(f"{message}: {exc!r}"[:500] if exc else message[:500])


WATCHED_LOGGERS = ("sunshine.runtime", "sunshine.consumer")


@dataclass
class Sent:
    topic: str  # base name
    partition: int
    offset: int
    headers: list[tuple[str, bytes | None]]
    value: bytes | None


@dataclass
class Stack:
    apps: dict[str, FastAPI]
    engines: dict[str, AsyncEngine]
    subscriptions: list[Subscription]
    producer: AIOKafkaProducer
    crash_watch: CrashWatch
    stuck: str | None = None  # the first case after which a consumer did not move on
    dead_letters: list[ConsumerRecord[Any, Any]] = field(default_factory=list)

    async def wait(self, check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
        """Wait for ``check``; False on timeout, and at once when a consumer crashed (a crash
        loop never makes progress)."""
        deadline = time.monotonic() + timeout
        while not self.crash_watch.crashes and time.monotonic() < deadline:
            if await check():
                return True
            await asyncio.sleep(0.05)
        return False

    def on(self, topic: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.topic == topic]

    async def send(
        self,
        topic: str,
        partition: int,
        headers: list[tuple[str, bytes | None]],
        value: bytes | None,
    ) -> Sent:
        meta = await self.producer.send_and_wait(
            PREFIX + topic, value=value, key=b"malformed", headers=headers, partition=partition
        )
        return Sent(topic, partition, int(meta.offset), headers, value)

    async def inbox_has(self, sub: Subscription, event_id: str) -> bool:
        if "\x00" in event_id:  # PostgreSQL text cannot hold it: never claimed
            return False
        async with self.engines[sub.service].connect() as conn:
            row = await conn.execute(
                text("SELECT 1 FROM inbox WHERE event_id = :e AND consumer = :c"),
                {"e": event_id, "c": sub.group},
            )
            return row.first() is not None

    def dead_letter(self, sub: Subscription, sent: Sent) -> ConsumerRecord[Any, Any] | None:
        for record in self.dead_letters:
            h = dict(record.headers)
            if (
                record.topic == PREFIX + sent.topic + DLQ_SUFFIX
                and h.get("dlq_consumer") == sub.group.encode()
                and h.get("dlq_original_partition") == str(sent.partition).encode()
                and h.get("dlq_original_offset") == str(sent.offset).encode()
            ):
                return record
        return None


def consumed(sub: Subscription, type_: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "sunshine_events_consumed_total",
        {"service": sub.service, "consumer": sub.group, "type": type_, "outcome": outcome},
    )
    return value or 0.0


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def fresh_payload(type_: str) -> dict[str, Any]:
    """The contract's example payload with new ids (every UUID replaced, consistently), so
    each probe is a new fact for the projections."""
    mapping: dict[str, str] = {}

    def renew(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: renew(v) for k, v in value.items()}
        if isinstance(value, list):
            return [renew(v) for v in value]
        if isinstance(value, str) and _is_uuid(value):
            return mapping.setdefault(value, str(uuid.uuid4()))
        return value

    example = EVENT_TYPES[type_].example.model_dump(mode="json")
    payload: dict[str, Any] = renew(example)
    return payload


def event(type_: str, data: dict[str, Any], *, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        type=type_,
        source="/sunshine/malformed-tests",
        time=datetime.now(UTC),
        data=data,
        subject=str(uuid.uuid4()),
    )


def headers_of(ev: CloudEvent) -> list[tuple[str, bytes | None]]:
    return [(k, v) for k, v in ev.headers()]


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.fixture(scope="package")
async def stack(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    topics = all_topics(PREFIX)
    await ensure_topics(KAFKA_BOOTSTRAP, topics, timeout_s=30)
    root._extra_topics.extend(topics)  # deleted with the run's topics
    keys = tmp_path_factory.mktemp("malformed-keys")
    crash_watch = CrashWatch()
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).addHandler(crash_watch)
    async with contextlib.AsyncExitStack() as exit_stack:
        apps: dict[str, FastAPI] = {}
        engines: dict[str, AsyncEngine] = {}
        for service, (factory, migrations, extra) in SERVICES.items():
            base = databases[service]
            settings = base.model_copy(
                update={
                    "db_name": f"{base.db_name}_mal",
                    "topic_prefix": PREFIX,
                    "run_relay": False,
                    "run_consumers": True,
                    "consumer_max_attempts": 2,
                    **extra,
                }
            )
            if "log_signing_key_file" in type(settings).model_fields:
                settings = settings.model_copy(
                    update={"log_signing_key_file": keys / "feed_log_signing.pem"}
                )
            await _reset_database(settings, migrations)
            app = factory(settings)
            await exit_stack.enter_async_context(app.router.lifespan_context(app))
            apps[service] = app
            engine = create_engine(settings, application_name="malformed-tests")
            exit_stack.push_async_callback(engine.dispose)
            engines[service] = engine

        producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
        await producer.start()
        exit_stack.push_async_callback(producer.stop)

        stack = Stack(
            apps=apps,
            engines=engines,
            subscriptions=subscriptions_of(apps),
            producer=producer,
            crash_watch=crash_watch,
        )
        dlq_reader = AIOKafkaConsumer(
            *(PREFIX + t + DLQ_SUFFIX for t in BASE_TOPICS),
            bootstrap_servers=KAFKA_BOOTSTRAP,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await dlq_reader.start()
        exit_stack.push_async_callback(dlq_reader.stop)

        async def collect() -> None:
            async for record in dlq_reader:
                stack.dead_letters.append(record)

        collector = asyncio.create_task(collect(), name="malformed-dlq-reader")

        async def stop_collector() -> None:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await collector

        exit_stack.push_async_callback(stop_collector)

        # every consumer has joined its group and reads: one probe per subscription applied
        for sub in stack.subscriptions:
            probe = event(sub.probe_type, fresh_payload(sub.probe_type))
            await stack.send(sub.topic, 0, headers_of(probe), probe.value())

            async def applied(sub: Subscription = sub, probe: CloudEvent = probe) -> bool:
                return await stack.inbox_has(sub, probe.id)

            await eventually(applied, timeout=60)
        try:
            yield stack
        finally:
            for name in WATCHED_LOGGERS:
                logging.getLogger(name).removeHandler(crash_watch)
