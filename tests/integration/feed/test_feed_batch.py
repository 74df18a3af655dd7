"""The feed consumer applies a whole poll in one transaction: projecting the story's events in
one transaction gives the same entries, log and summary as one transaction per event
(corrections find the entries they correct even when both are in the same batch)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from notification.log import store
from notification.log.jcs import canonicalize
from notification.log.signing import LogSigner
from notification.main import MIGRATIONS
from notification.service_layer.projections import FEED_HANDLERS
from notification.service_layer.summary import build_summary
from shared.db import create_engine, create_session_factory
from shared.messaging.envelope import CloudEvent
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed.conftest import feed_settings
from tests.integration.feed.facts import publish_story
from tests.integration.feed.test_feed_determinism import Recorder, project

pytestmark = pytest.mark.integration


async def project_in_one_transaction(
    name: str, tmp: Path, events: list[CloudEvent]
) -> tuple[Any, ...]:
    settings = feed_settings(tmp, name, PORT_BASE + 47, TOPIC_PREFIX)
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            for event in events:
                handler = FEED_HANDLERS.get(event.type)
                if handler is not None:
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


async def test_one_transaction_for_the_whole_story_gives_the_same_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    recorder = Recorder()
    story = await publish_story(recorder)  # type: ignore[arg-type]
    tmp = tmp_path_factory.mktemp("batch")
    one_by_one = await project("batch_single", tmp, recorder.sent)
    batched = await project_in_one_transaction("batch_whole", tmp, recorder.sent)
    assert batched[0] == story.entries
    corrections = [d for d in batched[2] if d["kind"] == "correction"]
    assert corrections
    assert all(d["corrects"] for d in corrections if d["data"].get("amount_fen"))
    assert batched == one_by_one
