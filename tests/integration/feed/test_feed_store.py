"""The log store against PostgreSQL, without Kafka: sequencing order, batching, proofs from
stored nodes, and signed heads."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.adapters.orm import FeedEntry
from notification.log import store
from notification.log.entry import document_leaf_hash, entry_id
from notification.log.merkle import root_of, verify_consistency, verify_inclusion
from notification.log.signing import LogSigner, signed_message
from notification.main import MIGRATIONS
from shared.db import create_engine, create_session_factory
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed.conftest import feed_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    settings = feed_settings(
        tmp_path_factory.mktemp("storekeys"), "store", PORT_BASE + 49, TOPIC_PREFIX
    )
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    yield create_session_factory(engine)
    await engine.dispose()


def entry(event_time: datetime, n: int) -> FeedEntry:
    source = f"evt-{uuid.uuid4()}"
    return FeedEntry(
        id=entry_id(source),
        source_event_id=source,
        kind="project.opened",
        subject_id=f"P{n}",
        title=f"项目 {n}",
        data={"n": n},
        occurred_at=event_time,
        published_at=datetime.now(UTC),
        event_time=event_time,
        event_type="test",
    )


async def test_sequencing_order_batches_and_proofs(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = LogSigner.from_file(tmp_path / "k.pem", create=True)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    times = [base + timedelta(seconds=i) for i in range(23)]
    shuffled = list(enumerate(times))
    random.Random(7).shuffle(shuffled)
    async with sessions() as session, session.begin():
        session.add_all([entry(t, n) for n, t in shuffled])
    monkeypatch.setattr(store, "SEQUENCE_BATCH", 5)
    async with sessions() as session, session.begin():
        head = await store.checkpoint(session, signer, settle_s=0)
    assert head.tree_size == 23
    signer.public_key.verify(
        head.signature, signed_message(23, head.timestamp_ms, head.root_hash, signer.key_id)
    )

    async with sessions() as session:
        rows = await store.log_entries(session, 0, 23)
        # log order is event time, whatever the insertion order
        assert [doc["data"]["n"] for _, doc, _ in rows] == list(range(23))
        leaves = [document_leaf_hash(doc) for _, doc, _ in rows]
        assert root_of(leaves) == head.root_hash == await store.root_hash(session, 23)
        for index in (0, 7, 22):
            path = await store.inclusion_proof(session, index, 23)
            verify_inclusion(index, 23, leaves[index], path, head.root_hash)
        old_root = await store.root_hash(session, 9)
        proof = await store.consistency_proof(session, 9, 23)
        verify_consistency(9, 23, old_root, head.root_hash, proof)

    # a late arrival (older than the tip) is appended, never inserted
    async with sessions() as session, session.begin():
        session.add(entry(base - timedelta(days=1), 99))
    async with sessions() as session, session.begin():
        again = await store.checkpoint(session, signer, settle_s=0)
        unchanged = await store.checkpoint(session, signer, settle_s=0)
    assert again.tree_size == 24
    assert unchanged == again  # nothing new: no new head
    async with sessions() as session:
        last = await store.log_entries(session, 23, 24)
        assert last[0][1]["data"]["n"] == 99
        proof = await store.consistency_proof(session, 23, 24)
        verify_consistency(23, 24, head.root_hash, again.root_hash, proof)

    # entries not yet settled wait
    async with sessions() as session, session.begin():
        session.add(entry(datetime.now(UTC), 100))
    async with sessions() as session, session.begin():
        assert (await store.checkpoint(session, signer, settle_s=60)).tree_size == 24
