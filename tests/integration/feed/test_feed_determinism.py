"""The projection is deterministic: the same events applied in two different interleavings
(each aggregate's events in its own order, as Kafka guarantees per partition) give the same
entries, the same log and the same summary."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from notification.log import store
from notification.log.jcs import canonicalize
from notification.log.signing import LogSigner
from notification.main import MIGRATIONS
from notification.service_layer.projections import FEED_HANDLERS
from notification.service_layer.summary import build_summary
from shared.db import create_engine, create_session_factory
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed.conftest import feed_settings
from tests.integration.feed.facts import publish_story

pytestmark = pytest.mark.integration


class Recorder:
    """Stands in for the stack: records the story's events instead of producing them."""

    def __init__(self) -> None:
        self.sent: list[CloudEvent] = []

    async def publish(
        self,
        type_: str,
        payload: BaseModel | dict[str, Any],
        *,
        key: str,
        topic: str = "donation.events",
        at: datetime | None = None,
    ) -> CloudEvent:
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        event = CloudEvent(
            id=str(uuid7()),
            type=type_,
            source="/sunshine/test",
            time=at or datetime.now(UTC),
            data=json.loads(json.dumps(data, default=str)),
            subject=key,
        )
        self.sent.append(event)
        return event


def interleave(events: list[CloudEvent], seed: int) -> list[CloudEvent]:
    """A random merge of the per-key sequences (per-key order kept)."""
    queues: dict[str, list[CloudEvent]] = defaultdict(list)
    for event in events:
        queues[event.subject or ""].append(event)
    rng = random.Random(seed)
    out: list[CloudEvent] = []
    while queues:
        key = rng.choice(sorted(queues))
        out.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return out


async def project(name: str, tmp: Path, events: list[CloudEvent]) -> tuple[Any, ...]:
    settings = feed_settings(tmp, name, PORT_BASE + 48, TOPIC_PREFIX)
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    sessions = create_session_factory(engine)
    try:
        for event in events:
            handler = FEED_HANDLERS.get(event.type)
            if handler is None:
                continue
            async with sessions() as session, session.begin():
                await handler(session, event)
        signer = LogSigner.from_file(tmp / "k.pem", create=True)
        async with sessions() as session, session.begin():
            head = await store.checkpoint(session, signer, settle_s=0)
        async with sessions() as session:
            documents = [doc for _, doc, _ in await store.log_entries(session, 0, head.tree_size)]
        summary = await build_summary(sessions)
    finally:
        await engine.dispose()
    return head.tree_size, head.root_hash, documents, hashlib.sha256(canonicalize(summary)).digest()


async def test_any_interleaving_gives_the_same_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    recorder = Recorder()
    story = await publish_story(recorder)  # type: ignore[arg-type]
    tmp = tmp_path_factory.mktemp("determinism")
    first = await project("det_a", tmp, interleave(recorder.sent, 1))
    second = await project("det_b", tmp, interleave(recorder.sent, 2))
    assert interleave(recorder.sent, 1) != interleave(recorder.sent, 2)
    assert first[0] == story.entries
    assert first == second
