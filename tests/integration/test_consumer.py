"""Idempotent consumer against the real broker: redelivery has one effect; a poison message
goes to the DLQ with error headers and the partition moves on; handler errors are retried a
bounded number of times."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import create_session_factory
from shared.messaging.consumer import ConsumerRunner, EventHandler, PermanentError
from shared.messaging.envelope import CloudEvent
from shared.messaging.replay import replay
from shared.messaging.replay_markers import marker_topic
from tests.conftest import KAFKA_BOOTSTRAP, _extra_topics
from tests.integration.conftest import committed_offset, eventually, read_all

pytestmark = pytest.mark.integration

TYPE = "org.redcross.fenghua.test.gift_counted.v1"


class GiftCounted(BaseModel):
    marker: uuid.UUID


def event(marker: uuid.UUID, *, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        type=TYPE,
        source="/sunshine/tests",
        time=datetime.now(UTC),
        data={"marker": str(marker)},
    )


async def apply_gift(session: AsyncSession, ev: CloudEvent) -> None:
    payload = GiftCounted.model_validate(ev.data)
    await session.execute(
        text("INSERT INTO it_business (id, note) VALUES (:id, 'counted')"), {"id": payload.marker}
    )


@contextlib.asynccontextmanager
async def running(runner: ConsumerRunner) -> AsyncIterator[None]:
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def produce(topic: str, messages: list[tuple[list[tuple[str, bytes]], bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    try:
        for headers, value in messages:
            await producer.send_and_wait(topic, value=value, key=b"k", headers=headers)
    finally:
        await producer.stop()


def runner(engine: AsyncEngine, topic: str, handlers: dict[str, EventHandler]) -> ConsumerRunner:
    return ConsumerRunner(
        name=f"{topic}.group",
        service="tests",
        topics=[topic],
        handlers=handlers,
        session_factory=create_session_factory(engine),
        bootstrap=KAFKA_BOOTSTRAP,
        max_attempts=3,
        retry_backoff_s=0.05,
    )


async def count(engine: AsyncEngine, marker: uuid.UUID) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM it_business WHERE id = :m"), {"m": marker}
        )
        return int(result.scalar_one())


async def test_a_message_delivered_twice_has_one_effect(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    marker = uuid.uuid4()
    ev = event(marker)
    await produce(scratch_topic, [(ev.headers(), ev.value()), (ev.headers(), ev.value())])
    calls: list[str] = []

    async def counting(session: AsyncSession, e: CloudEvent) -> None:
        calls.append(e.id)
        await apply_gift(session, e)

    r = runner(engine, scratch_topic, {TYPE: counting})
    async with running(r):

        async def both_consumed() -> bool:
            return await committed_offset(r.name, scratch_topic) == 2

        await eventually(both_consumed)
    assert await count(engine, marker) == 1
    assert calls == [ev.id]


async def test_poison_goes_to_the_dlq_and_the_next_message_is_processed(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    good = uuid.uuid4()
    invalid_payload = CloudEvent(
        id=str(uuid.uuid4()),
        type=TYPE,
        source="/t",
        time=datetime.now(UTC),
        data={"marker": "nope"},
    )
    ok = event(good)
    await produce(
        scratch_topic,
        [
            ([], b"not a cloud event"),  # malformed: no headers, not JSON
            (invalid_payload.headers(), invalid_payload.value()),  # fails validation
            (ok.headers(), ok.value()),
        ],
    )
    r = runner(engine, scratch_topic, {TYPE: apply_gift})
    async with running(r):

        async def good_applied() -> bool:
            return await count(engine, good) == 1

        await eventually(good_applied)

        async def all_committed() -> bool:
            return await committed_offset(r.name, scratch_topic) == 3

        await eventually(all_committed)
    dead: list[Any] = await read_all(scratch_topic + ".dlq", expect=2)
    assert len(dead) == 2
    first, second = (dict(d.headers) for d in dead)
    assert first["dlq_error_type"] == b"MalformedEvent"
    assert first["dlq_original_offset"] == b"0"
    assert first["dlq_original_topic"] == scratch_topic.encode()
    assert dead[0].value == b"not a cloud event"
    assert second["dlq_error_type"] == b"ValidationError"
    assert second["ce_id"] == invalid_payload.id.encode()
    assert second["dlq_consumer"] == r.name.encode()


async def test_handler_errors_are_retried_then_dead_lettered(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    flaky_marker, broken_marker = uuid.uuid4(), uuid.uuid4()
    attempts: dict[str, int] = {}

    async def flaky(session: AsyncSession, e: CloudEvent) -> None:
        attempts[e.id] = attempts.get(e.id, 0) + 1
        marker = GiftCounted.model_validate(e.data).marker
        if marker == broken_marker or attempts[e.id] == 1:
            raise RuntimeError(f"attempt {attempts[e.id]} failed")
        await apply_gift(session, e)

    flaky_event, broken_event = event(flaky_marker), event(broken_marker)
    await produce(
        scratch_topic,
        [
            (flaky_event.headers(), flaky_event.value()),
            (broken_event.headers(), broken_event.value()),
        ],
    )
    r = runner(engine, scratch_topic, {TYPE: flaky})
    async with running(r):

        async def done() -> bool:
            return await committed_offset(r.name, scratch_topic) == 2

        await eventually(done)
    assert attempts == {flaky_event.id: 2, broken_event.id: 3}
    assert await count(engine, flaky_marker) == 1
    assert await count(engine, broken_marker) == 0
    dead: list[Any] = await read_all(scratch_topic + ".dlq", expect=1)
    assert [dict(d.headers)["dlq_attempts"] for d in dead] == [b"3"]
    assert dict(dead[0].headers)["dlq_error"] == b"attempt 3 failed"


async def test_replay_reinjects_a_dead_letter_once_the_cause_is_fixed(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    _extra_topics.append(marker_topic(scratch_topic + ".dlq"))  # deleted after the session
    marker = uuid.uuid4()
    fixed = False

    async def buggy_then_fixed(session: AsyncSession, e: CloudEvent) -> None:
        if not fixed:
            raise PermanentError("bug: cannot apply this gift yet")
        await apply_gift(session, e)

    ev = event(marker)
    await produce(scratch_topic, [(ev.headers(), ev.value())])
    r = runner(engine, scratch_topic, {TYPE: buggy_then_fixed})
    async with running(r):

        async def dead_lettered() -> bool:
            return await committed_offset(r.name, scratch_topic) == 1

        await eventually(dead_lettered)
        assert await count(engine, marker) == 0

        fixed = True  # the fix is deployed; now replay
        dry = await replay(scratch_topic + ".dlq", bootstrap=KAFKA_BOOTSTRAP, dry_run=True)
        assert dry.replayed == [ev.id]
        report = await replay(scratch_topic + ".dlq", bootstrap=KAFKA_BOOTSTRAP)
        assert report.replayed == [ev.id]

        async def applied() -> bool:
            return await count(engine, marker) == 1

        await eventually(applied)
        again = await replay(scratch_topic + ".dlq", bootstrap=KAFKA_BOOTSTRAP)
        assert again.replayed == [], "each dead letter is replayed once"

        async def lag_reported() -> bool:
            sample = REGISTRY.get_sample_value(
                "sunshine_consumer_lag",
                {"service": "tests", "consumer": r.name, "topic": scratch_topic, "partition": "0"},
            )
            return sample == 0

        await eventually(lag_reported, timeout=15)
    replayed: list[Any] = await read_all(scratch_topic, expect=2)
    assert [dict(m.headers)["ce_id"] for m in replayed] == [ev.id.encode()] * 2
    assert not any(k.startswith("dlq_") for k, _ in replayed[1].headers)
