"""The outbox row and the business row commit or roll back together; the relay publishes
committed rows as CloudEvents and marks them only after the broker acknowledged them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_session_factory
from shared.messaging.relay import OutboxRelay
from shared.uow import SqlUnitOfWork
from tests.conftest import KAFKA_BOOTSTRAP
from tests.integration.conftest import read_all

pytestmark = pytest.mark.integration

TYPE = "org.redcross.fenghua.test.thing_happened.v1"


class ThingHappened(BaseModel):
    marker: uuid.UUID
    note: str


async def _counts(engine: AsyncEngine, marker: uuid.UUID) -> tuple[int, int]:
    async with engine.connect() as conn:
        business = (
            await conn.execute(
                text("SELECT count(*) FROM it_business WHERE id = :m"), {"m": marker}
            )
        ).scalar_one()
        events = (
            await conn.execute(
                text("SELECT count(*) FROM outbox WHERE key = :m"), {"m": str(marker)}
            )
        ).scalar_one()
    return business, events


def _uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(create_session_factory(engine), source="/sunshine/tests")


async def _stage(uow: SqlUnitOfWork, marker: uuid.UUID, topic: str, key: str | None = None) -> None:
    await uow.session.execute(
        text("INSERT INTO it_business (id, note) VALUES (:id, '冬衣')"), {"id": marker}
    )
    uow.publish(
        topic=topic,
        key=key or str(marker),
        type=TYPE,
        subject=str(marker),
        payload=ThingHappened(marker=marker, note="冬衣"),
    )


async def test_commit_writes_business_and_outbox_rows_together(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    marker = uuid.uuid4()
    async with _uow(engine) as uow:
        await _stage(uow, marker, scratch_topic)
        await uow.commit()
    assert await _counts(engine, marker) == (1, 1)


async def test_an_error_before_commit_leaves_neither(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    marker = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with _uow(engine) as uow:
            await _stage(uow, marker, scratch_topic)
            raise RuntimeError("handler failed")
    assert await _counts(engine, marker) == (0, 0)


async def test_a_failing_outbox_write_rolls_back_the_business_row(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    marker = uuid.uuid4()
    with pytest.raises(Exception, match="value too long"):
        async with _uow(engine) as uow:
            await _stage(uow, marker, scratch_topic, key="k" * 500)  # key column is 200 wide
            await uow.commit()
    async with engine.connect() as conn:
        business = (
            await conn.execute(
                text("SELECT count(*) FROM it_business WHERE id = :m"), {"m": marker}
            )
        ).scalar_one()
    assert business == 0


async def test_relay_publishes_cloudevents_and_marks_rows(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    markers = [uuid.uuid4() for _ in range(3)]
    for marker in markers:
        async with _uow(engine) as uow:
            await _stage(uow, marker, scratch_topic)
            await uow.commit()
    relay = OutboxRelay(
        engine=engine, dsn="unused", bootstrap=KAFKA_BOOTSTRAP, service="tests", batch_size=500
    )
    try:
        while await relay.publish_pending():
            pass
    finally:
        if relay._producer is not None:
            await relay._producer.stop()
    records: list[Any] = await read_all(scratch_topic, expect=3)
    assert [r.key.decode() for r in records] == [str(m) for m in markers]
    headers = dict(records[0].headers)
    assert headers["ce_type"] == TYPE.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/sunshine/tests"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_subject"] == str(markers[0]).encode()
    async with engine.connect() as conn:
        ids = [
            str(i)
            for i in (
                await conn.execute(
                    text("SELECT id FROM outbox WHERE key = ANY(:k) ORDER BY seq"),
                    {"k": [str(m) for m in markers]},
                )
            ).scalars()
        ]
        unpublished = (
            await conn.execute(
                text("SELECT count(*) FROM outbox WHERE key = ANY(:k) AND published_at IS NULL"),
                {"k": [str(m) for m in markers]},
            )
        ).scalar_one()
    assert [dict(r.headers)["ce_id"].decode() for r in records] == ids
    assert unpublished == 0


async def test_a_row_for_a_missing_topic_does_not_stall_the_others(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    good, bad = uuid.uuid4(), uuid.uuid4()
    async with _uow(engine) as uow:
        await _stage(uow, bad, scratch_topic + ".does-not-exist")
        await uow.commit()
    async with _uow(engine) as uow:
        await _stage(uow, good, scratch_topic)
        await uow.commit()
    relay = OutboxRelay(
        engine=engine, dsn="unused", bootstrap=KAFKA_BOOTSTRAP, service="tests", batch_size=500
    )
    started = time.monotonic()
    try:
        await relay.publish_pending()
    finally:
        if relay._producer is not None:
            await relay._producer.stop()
    assert time.monotonic() - started < 5, "an unknown topic must fail fast, not wait for metadata"
    async with engine.connect() as conn:
        rows = {
            row.key: row
            for row in await conn.execute(
                text(
                    "SELECT key, published_at, attempts, last_error FROM outbox WHERE key = ANY(:k)"
                ),
                {"k": [str(good), str(bad)]},
            )
        }
        # Leave nothing behind that a later relay in this database would keep retrying.
        await conn.execute(text("DELETE FROM outbox WHERE key = :k"), {"k": str(bad)})
        await conn.commit()
    assert rows[str(good)].published_at is not None
    assert rows[str(bad)].published_at is None
    assert rows[str(bad)].attempts == 1
    assert "does not exist" in rows[str(bad)].last_error


async def test_a_full_batch_for_a_missing_topic_does_not_starve_the_rows_behind_it(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    bad = [uuid.uuid4() for _ in range(3)]
    good = uuid.uuid4()
    for marker in bad:
        async with _uow(engine) as uow:
            await _stage(uow, marker, scratch_topic + ".missing")
            await uow.commit()
    async with _uow(engine) as uow:
        await _stage(uow, good, scratch_topic)
        await uow.commit()
    relay = OutboxRelay(
        engine=engine, dsn="unused", bootstrap=KAFKA_BOOTSTRAP, service="tests", batch_size=2
    )
    try:
        assert await relay.publish_pending() == 0  # the first two rows: the topic is missing
        assert await relay.publish_pending() == 1  # the missing topic is left out: good goes
    finally:
        if relay._producer is not None:
            await relay._producer.stop()
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM outbox WHERE key = ANY(:k)"), {"k": [str(m) for m in bad]}
            )
    records: list[Any] = await read_all(scratch_topic, expect=1)
    assert [r.key.decode() for r in records] == [str(good)]


async def test_a_large_batch_is_written_in_chunks_and_all_rows_land(engine: AsyncEngine) -> None:
    from shared.messaging.outbox import CHUNK, pending_event, write_outbox

    class Payload(BaseModel):
        n: int

    events = [
        pending_event(topic="it.chunks", key=str(n), type="t", source="/it", payload=Payload(n=n))
        for n in range(CHUNK * 2 + 7)
    ]
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await write_outbox(session, events)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT payload->>'n' FROM outbox WHERE topic = 'it.chunks' ORDER BY seq")
            )
        ).scalars()
        assert [int(n) for n in rows] == list(range(CHUNK * 2 + 7))
        # rows for a topic that does not exist: leave none for later relays in this database
        await conn.execute(text("DELETE FROM outbox WHERE topic = 'it.chunks'"))
        await conn.commit()
