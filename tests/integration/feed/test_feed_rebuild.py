"""The feed, its log and the summary rebuilt from the topics from offset zero (a new consumer
group, a fresh database) give identical hashes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys

import pytest

from notification.log import store
from notification.log.jcs import canonicalize
from notification.main import MIGRATIONS
from notification.rebuild import compare_with_live, rebuild
from shared.db import create_engine, create_session_factory
from tests.conftest import _reset_database
from tests.e2e.conftest import settings_env
from tests.integration.feed.conftest import FeedStack
from tests.integration.feed.facts import publish_story

pytestmark = pytest.mark.integration

# The live log orders entries by event time once they are this old; generous here so that a
# loaded test machine cannot delay one partition past it (see decision 004).
FEED_SETTLE_S = 5.0


async def test_rebuild_from_offset_zero_gives_identical_hashes(feed_stack: FeedStack) -> None:
    story = await publish_story(feed_stack)
    total = 1 + story.entries
    await feed_stack.wait_for_entries(total)
    head = await feed_stack.wait_for_head(total)
    live_summary = await feed_stack.get("/api/v1/public/summary")
    live_entries = (await feed_stack.get("/api/v1/public/log/entries"))["entries"]

    target = feed_stack.settings.model_copy(
        update={"db_name": feed_stack.settings.db_name + "_rebuilt"}
    )
    await _reset_database(target, MIGRATIONS)
    result = await rebuild(target, group=f"{target.topic_prefix}notification.feed.rebuild-test")

    assert result.tree_size == head["tree_size"] == total
    assert result.root_hash == head["root_hash"]
    assert result.summary_sha256 == hashlib.sha256(canonicalize(live_summary)).hexdigest()
    assert await asyncio.to_thread(compare_with_live, feed_stack.url, result) is None

    # entry by entry, the rebuilt documents are the live ones
    engine = create_engine(target, application_name="tests")
    try:
        async with create_session_factory(engine)() as session:
            rebuilt = await store.log_entries(session, 0, total)
    finally:
        await engine.dispose()
    assert [doc for _, doc, _ in rebuilt] == [e["entry"] for e in live_entries]


async def test_rebuild_command_line(feed_stack: FeedStack) -> None:
    """``python -m notification.rebuild --truncate --compare URL`` as an operator runs it."""
    target = feed_stack.settings.model_copy(
        update={"db_name": feed_stack.settings.db_name + "_cli"}
    )
    await _reset_database(target, MIGRATIONS)
    env = os.environ | settings_env(target, "NOTIFICATION_")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notification.rebuild",
        "--truncate",
        "--compare",
        feed_stack.url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, out.decode() + err.decode()[-2000:]
    assert "identical to the live log's first" in out.decode()
