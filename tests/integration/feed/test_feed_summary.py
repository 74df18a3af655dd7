"""The summary read from the trigger-kept aggregates (migration 0005) equals the summary
computed from the whole feed, whatever the order and batching of the events: corrections
before their gift, several re-designations, a project's town learned late, categories learned
late, deltas folded at any point; and a truncated feed (a rebuild) starts from nothing."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.main import MIGRATIONS
from notification.service_layer.projections import FEED_HANDLERS
from notification.service_layer.summary import SummaryCache, build_summary, encode, fold
from shared.contracts import donation as d
from shared.contracts import warehouse as w
from shared.db import create_engine, create_session_factory
from shared.messaging.envelope import CloudEvent
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed.conftest import feed_settings
from tests.integration.feed.facts import example, publish_story
from tests.integration.feed.summary_reference import reference_summary
from tests.integration.feed.test_feed_determinism import Recorder

pytestmark = pytest.mark.integration

PROJECTS = ["P-A", "P-B", "P-C", None]
TOWNS = ["溪口镇", "锦屏街道", None]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    settings = feed_settings(tmp_path, "summary", PORT_BASE + 46, TOPIC_PREFIX)
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    yield create_session_factory(engine)
    await engine.dispose()


async def apply(sessions: async_sessionmaker[AsyncSession], batch: list[CloudEvent]) -> None:
    async with sessions() as session, session.begin():
        for event in batch:
            handler = FEED_HANDLERS.get(event.type)
            if handler is not None:
                await handler(session, event)


async def assert_same(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    expected = await reference_summary(sessions)
    assert await build_summary(sessions) == expected
    return expected


def ev(type_: str, payload: Any, at: datetime, key: str) -> CloudEvent:
    data = payload if isinstance(payload, dict) else payload.model_dump(mode="json")
    return CloudEvent(
        id=str(uuid.uuid4()), type=type_, source="/tests", time=at, data=data, subject=key
    )


def random_events(rng: random.Random, count: int) -> list[CloudEvent]:
    at = datetime(2026, 1, 30, 12, tzinfo=UTC)
    gifts: list[tuple[uuid.UUID, str]] = [(uuid.uuid4(), f"C-{n}") for n in range(12)]
    out: list[CloudEvent] = []
    for _ in range(count):
        at += timedelta(hours=rng.randint(1, 200))  # across month boundaries
        gift_id, code = rng.choice(gifts)
        key = str(gift_id)
        roll = rng.random()
        if roll < 0.3:
            out.append(
                ev(
                    d.DONATION_RECEIVED,
                    example(
                        d.DONATION_RECEIVED,
                        donation_id=gift_id,
                        tracking_code=code,
                        kind=rng.choice(["money", "goods"]),
                        amount_fen=rng.randint(1, 100_000),
                        project_code=rng.choice(PROJECTS),
                        received_at=at,
                        items=[],
                    ),
                    at,
                    key,
                )
            )
        elif roll < 0.4:
            update = {"donation_id": gift_id, "tracking_code": code, "cancelled_at": at}
            update["amount_fen"] = rng.randint(1, 5000)
            out.append(ev(d.DONATION_CANCELLED, example(d.DONATION_CANCELLED, **update), at, key))
        elif roll < 0.5:
            update = {"donation_id": gift_id, "tracking_code": code, "refunded_at": at}
            update["amount_fen"] = rng.randint(1, 5000)
            out.append(ev(d.DONATION_REFUNDED, example(d.DONATION_REFUNDED, **update), at, key))
        elif roll < 0.62:
            update = {
                "donation_id": gift_id,
                "tracking_code": code,
                "from_project_code": rng.choice(PROJECTS),
                "to_project_code": rng.choice(PROJECTS),
                "changed_at": at,
            }
            out.append(ev(d.DESIGNATION_CHANGED, example(d.DESIGNATION_CHANGED, **update), at, key))
        elif roll < 0.72:
            update = {
                "disbursement_id": uuid.uuid4(),
                "project_code": rng.choice(PROJECTS[:3]),
                "amount_fen": rng.randint(1, 50_000),
                "town": rng.choice(TOWNS),
                "approved_at": at,
            }
            out.append(ev(d.FUNDS_DISBURSED, example(d.FUNDS_DISBURSED, **update), at, "disb"))
        elif roll < 0.8:
            project = rng.choice(PROJECTS[:3])
            update = {"project_code": project, "town": rng.choice(TOWNS), "opened_at": at}
            out.append(ev(d.PROJECT_OPENED, example(d.PROJECT_OPENED, **update), at, str(project)))
        elif roll < 0.9:
            delivered = example(w.DISPATCH_DELIVERED).model_dump(mode="json")
            delivered.update(dispatch_id=str(uuid.uuid4()), delivered_at=at.isoformat())
            delivered["destination"]["town"] = rng.choice(TOWNS)
            for line in delivered["lines"]:
                line["delivered_quantity"] = rng.randint(0, 30)
            out.append(ev(w.DISPATCH_DELIVERED, delivered, at, "dispatch"))
        else:
            received = example(w.STOCK_RECEIVED).model_dump(mode="json")
            for lot in received["lots"]:
                lot["category"] = rng.choice(["food", "shelter", "clothing_bedding"])
            out.append(ev(w.STOCK_RECEIVED, received, at, "inbound"))
    return out


async def test_the_story_summary_is_the_same_from_the_aggregates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    recorder = Recorder()
    await publish_story(recorder)  # type: ignore[arg-type]
    for event in recorder.sent:
        await apply(sessions, [event])
    expected = await assert_same(sessions)
    assert expected["received"]["total_fen"] > 0
    assert expected["goods_distributed"]
    async with sessions() as session, session.begin():
        await fold(session)
    await assert_same(sessions)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_batching_and_order_gives_the_reference_summary(
    sessions: async_sessionmaker[AsyncSession], seed: int
) -> None:
    rng = random.Random(seed)
    events = random_events(rng, 160)
    cache = SummaryCache()
    position = 0
    while position < len(events):
        size = rng.choice([1, 1, 2, 5, 17])
        await apply(sessions, events[position : position + size])
        position += size
        if rng.random() < 0.3:
            async with sessions() as session, session.begin():
                await fold(session)
        if rng.random() < 0.25:
            expected = await assert_same(sessions)
            assert await cache.get(sessions) == encode(expected)
    expected = await assert_same(sessions)
    assert expected["received"]["by_project"], "the story moved money between projects"
    assert await cache.get(sessions) == encode(expected)


async def test_a_truncated_feed_starts_from_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await apply(sessions, random_events(random.Random(9), 40))
    async with sessions() as session, session.begin():
        await fold(session)
        await session.execute(
            text(
                "TRUNCATE feed_tree_heads, feed_log_nodes, feed_log_leaves, "
                "feed_item_categories, feed_entries"
            )
        )
    empty = await assert_same(sessions)
    assert empty["entries_by_kind"] == {}
    await apply(sessions, random_events(random.Random(10), 40))
    await assert_same(sessions)
