"""Batched consumption against the real broker and database: a poll is applied in one
transaction, yet a poison event is still retried and dead-lettered alone, the good events of
its batch are applied exactly once, a redelivered batch is all duplicates, and a database
connection lost mid-batch is retried without losing anything."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.messaging.consumer import ConsumerRunner
from shared.messaging.envelope import CloudEvent
from tests.integration.conftest import committed_offset, eventually, read_all
from tests.integration.test_consumer import (
    TYPE,
    GiftCounted,
    apply_gift,
    count,
    event,
    produce,
    runner,
    running,
)

pytestmark = pytest.mark.integration

BATCH = 9
POISON_AT = 4  # in the middle of the batch


def consumed(r: ConsumerRunner, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "sunshine_events_consumed_total",
            {"service": "tests", "consumer": r.name, "type": TYPE, "outcome": outcome},
        )
        or 0.0
    )


async def produce_batch(topic: str, markers: list[uuid.UUID]) -> list[CloudEvent]:
    events = [event(m) for m in markers]
    await produce(topic, [(e.headers(), e.value()) for e in events])
    return events


@pytest.mark.parametrize("failure", ["handler", "statement", "commit"])
async def test_a_poison_event_in_the_middle_of_a_batch_is_dead_lettered_alone(
    engine: AsyncEngine, scratch_topic: str, failure: str
) -> None:
    """``handler``: the handler raises (its own error); ``statement``: its SQL fails inside the
    batch after other events ran (the batch is halved until it is alone); ``commit``: a
    deferred constraint fails only at COMMIT, when no event is to blame yet."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS it_batch_deferred (id UUID PRIMARY KEY, note TEXT, "
                "CONSTRAINT it_batch_note UNIQUE (note) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO it_batch_deferred SELECT :id, 'taken' WHERE NOT EXISTS "
                "(SELECT 1 FROM it_batch_deferred WHERE note = 'taken')"
            ),
            {"id": uuid.uuid4()},
        )
    markers = [uuid.uuid4() for _ in range(BATCH)]
    poison = markers[POISON_AT]
    calls: Counter[uuid.UUID] = Counter()
    committed_in: dict[uuid.UUID, int] = {}

    async def handler(session: AsyncSession, e: CloudEvent) -> None:
        marker = GiftCounted.model_validate(e.data).marker
        calls[marker] += 1
        committed_in[marker] = id(session)
        if marker == poison:
            if failure == "handler":
                raise RuntimeError("cannot apply this gift")
            if failure == "statement":
                await session.execute(
                    text("INSERT INTO it_business (id, note) VALUES (:m, NULL)"), {"m": marker}
                )
            if failure == "commit":
                await session.execute(
                    text("INSERT INTO it_batch_deferred (id, note) VALUES (:m, 'taken')"),
                    {"m": marker},
                )
                return
        await apply_gift(session, e)

    events = await produce_batch(scratch_topic, markers)
    r = runner(engine, scratch_topic, {TYPE: handler})
    async with running(r):

        async def all_committed() -> bool:
            return await committed_offset(r.name, scratch_topic) == BATCH

        await eventually(all_committed)
    for marker in markers:
        assert await count(engine, marker) == (0 if marker == poison else 1), marker
    dead: list[Any] = await read_all(scratch_topic + ".dlq", expect=1)
    assert [dict(d.headers)["ce_id"] for d in dead] == [events[POISON_AT].id.encode()]
    assert dict(dead[0].headers)["dlq_attempts"] == b"3"
    if failure == "handler":
        # the batch's try counts as the first attempt: three in all, as one at a time
        assert calls[poison] == 3
    assert consumed(r, "applied") == BATCH - 1
    assert consumed(r, "dead_lettered") == 1
    # batching really happened: the good events were applied in a few transactions, not one each
    good_sessions = {committed_in[m] for m in markers if m != poison}
    assert len(good_sessions) < BATCH - 1


async def test_a_redelivered_batch_is_all_duplicates(
    engine: AsyncEngine, scratch_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash between the DB commit and the offset commit: the next owner re-reads the whole
    batch and the inbox turns every event into a no-op."""
    markers = [uuid.uuid4() for _ in range(BATCH)]
    calls: Counter[uuid.UUID] = Counter()

    async def counting(session: AsyncSession, e: CloudEvent) -> None:
        calls[GiftCounted.model_validate(e.data).marker] += 1
        await apply_gift(session, e)

    await produce_batch(scratch_topic, markers)
    first = runner(engine, scratch_topic, {TYPE: counting})

    async def offsets_lost(*_: Any) -> None:
        return None  # the process "died" before committing the offsets

    monkeypatch.setattr(first, "_commit", offsets_lost)
    async with running(first):

        async def applied() -> bool:
            return all([await count(engine, m) == 1 for m in markers])

        await eventually(applied)
    assert await committed_offset(first.name, scratch_topic) == -1
    applied_before = consumed(first, "applied")
    duplicates_before = consumed(first, "duplicate")

    second = runner(engine, scratch_topic, {TYPE: counting})  # same group and inbox name
    async with running(second):

        async def all_committed() -> bool:
            return await committed_offset(second.name, scratch_topic) == BATCH

        await eventually(all_committed)
    assert all([await count(engine, m) == 1 for m in markers])
    assert calls == Counter(dict.fromkeys(markers, 1)), "no handler ran for a duplicate"
    assert consumed(second, "duplicate") - duplicates_before == BATCH
    assert consumed(second, "applied") == applied_before


async def test_a_connection_lost_mid_batch_is_retried_and_nothing_is_lost(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    """The database connection dies under the batch (its backend terminated): the batch is
    retried as a whole, without dead-lettering anything; every event is applied once."""
    markers = [uuid.uuid4() for _ in range(BATCH)]
    victim = markers[POISON_AT]
    terminated = False

    async def handler(session: AsyncSession, e: CloudEvent) -> None:
        nonlocal terminated
        if GiftCounted.model_validate(e.data).marker == victim and not terminated:
            terminated = True
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await apply_gift(session, e)

    await produce_batch(scratch_topic, markers)
    r = runner(engine, scratch_topic, {TYPE: handler})
    retried_before = consumed(r, "retried")
    async with running(r):

        async def all_committed() -> bool:
            return await committed_offset(r.name, scratch_topic) == BATCH

        await eventually(all_committed)
    assert terminated
    assert all([await count(engine, m) == 1 for m in markers])
    assert consumed(r, "retried") > retried_before
    assert consumed(r, "dead_lettered") == 0
    assert await read_all(scratch_topic + ".dlq", expect=1, timeout=3) == []
