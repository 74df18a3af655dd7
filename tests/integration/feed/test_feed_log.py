"""The transparency log end to end: the standalone verifier (run as a process, public HTTP
only) accepts the honest log, an entry's inclusion and the consistency since a saved head,
and fails loudly on entries edited, removed or reordered directly in the database, and on
a history rewritten and re-signed with the log's own key."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from notification.verify import run
from shared.contracts import donation as d
from tests.integration.feed.conftest import FeedStack
from tests.integration.feed.facts import Story, code, gift, publish_story

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def story(feed_stack: FeedStack) -> Story:
    story = await publish_story(feed_stack, late_gift=False)
    await feed_stack.wait_for_entries(1 + story.entries)
    await feed_stack.wait_for_head(1 + story.entries)
    return story


async def verify(stack: FeedStack, *args: str) -> tuple[int, str, str]:
    """The verifier in-process (same code as the CLI, no interpreter start-up)."""
    out, err = io.StringIO(), io.StringIO()
    rc = await asyncio.to_thread(run, ["--url", stack.url, *args], out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


async def verify_process(stack: FeedStack, *args: str) -> tuple[int, str, str]:
    """The verifier as a user runs it: ``python -m notification.verify``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notification.verify",
        "--url",
        stack.url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def execute_as_attacker(stack: FeedStack, statements: list[str], *args: object) -> None:
    """Run statements in one committed transaction, as someone with the database's keys.

    The service's readers and checkpointer hold these tables too, and PostgreSQL may pick
    the attacker's transaction as a deadlock victim: then it is rolled back and tried again.
    """
    for attempt in range(5):
        conn = await stack.db()
        try:
            async with conn.transaction():
                for statement in statements:
                    await conn.execute(statement, *(args if "$1" in statement else ()))
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
        finally:
            await conn.close()
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def tampering(stack: FeedStack, *statements: str) -> AsyncIterator[None]:
    """Apply statements with the append-only triggers disabled, committed; undo afterwards."""
    triggers = (
        ("feed_entries", "feed_entries_no_update"),
        ("feed_log_leaves", "feed_log_leaves_no_update"),
    )
    try:
        await execute_as_attacker(
            stack,
            [
                *(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}" for table, trigger in triggers),
                "CREATE TABLE IF NOT EXISTS backup_entries AS TABLE feed_entries",
                "CREATE TABLE IF NOT EXISTS backup_leaves AS TABLE feed_log_leaves",
                *statements,
            ],
        )
        yield
    finally:
        await execute_as_attacker(
            stack,
            [
                "DELETE FROM feed_log_leaves",
                "DELETE FROM feed_entries",
                "INSERT INTO feed_entries SELECT * FROM backup_entries",
                "INSERT INTO feed_log_leaves SELECT * FROM backup_leaves",
                "DROP TABLE backup_entries, backup_leaves",
                *(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}" for table, trigger in triggers),
            ],
        )


async def entry_at(stack: FeedStack, leaf: int) -> dict[str, object]:
    page = await stack.get("/api/v1/public/log/entries", start=leaf, end=leaf + 1)
    entry: dict[str, object] = page["entries"][0]["entry"]
    return entry


async def test_honest_log_verifies_and_grows_consistently(
    feed_stack: FeedStack, story: Story, tmp_path: Path
) -> None:
    state = tmp_path / "head.json"
    first = await entry_at(feed_stack, 3)
    _, code_a = story.gifts["a"]
    rc, out, err = await verify_process(
        feed_stack, "--state", str(state), "--entry", str(first["id"]), "--tracking-code", code_a
    )
    assert rc == 0, out + err
    assert "VERIFIED" in out
    assert f"all {1 + story.entries} entries hash to the signed root" in out
    saved = json.loads(state.read_text())
    assert saved["tree_size"] == 1 + story.entries

    # the log grows; the verifier checks it only grew (consistency from the saved head)
    now = datetime.now(UTC)
    for _ in range(3):
        gid = uuid.uuid4()
        await feed_stack.publish(
            d.DONATION_RECEIVED, gift(gid, code(9), amount_fen=1_000, at=now), key=str(gid)
        )
    story.entries += 3
    await feed_stack.wait_for_head(1 + story.entries)
    rc, out, err = await verify(feed_stack, "--state", str(state), "--no-full")
    assert rc == 0, out + err
    assert f"extends the saved head of {saved['tree_size']}" in out
    assert json.loads(state.read_text())["tree_size"] == 1 + story.entries


async def test_proof_endpoints_refuse_nonsense(feed_stack: FeedStack, story: Story) -> None:
    head = await feed_stack.get("/api/v1/public/tree-head")
    size = head["tree_size"]
    for path, status in [
        (f"/api/v1/public/proofs/inclusion?entry={uuid.uuid4()}", 404),
        ("/api/v1/public/proofs/inclusion?entry=not-an-id", 422),
        (f"/api/v1/public/proofs/inclusion?entry=0&tree_size={size + 100}", 422),
        (f"/api/v1/public/proofs/inclusion?entry={size - 1}&tree_size=1", 404),
        ("/api/v1/public/proofs/consistency?first=3&second=2", 422),
        (f"/api/v1/public/proofs/consistency?first=1&second={size + 100}", 422),
        ("/api/v1/public/tree-head?tree_size=999999", 404),
        ("/api/v1/public/tree-head?tree_size=99999999999999999999", 422),
        ("/api/v1/public/proofs/consistency?first=1&second=99999999999999999999", 422),
        ("/api/v1/public/log/entries?start=99999999999999999999", 422),
        ("/api/v1/public/feed?cursor=Wzk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ", 422),
        ("/api/v1/public/feed?period=9999-12-31", 422),
    ]:
        response = await feed_stack.http.get(path)
        assert response.status_code == status, (path, response.text)
    key = await feed_stack.get("/api/v1/public/log-key")
    assert key["algorithm"] == "Ed25519"
    assert key["key_id"] == head["key_id"]


async def test_edited_entry_fails_loudly(feed_stack: FeedStack, story: Story) -> None:
    victim = await entry_at(feed_stack, 2)
    async with tampering(
        feed_stack,
        "UPDATE feed_entries SET title = title || '（已改）', "
        "data = jsonb_set(data, '{amount_fen}', '1') "
        f"WHERE id = '{victim['id']}'",
    ):
        rc, out, err = await verify(feed_stack)
        assert rc == 1, out + err
        assert "VERIFICATION FAILED" in err
        assert "do not hash to the signed root" in err
        assert "first bad entry: leaf 2" in err
        rc, out, err = await verify(feed_stack, "--no-full", "--entry", str(victim["id"]))
        assert rc == 1, out + err
        assert "is not in the signed log" in err
    rc, out, err = await verify(feed_stack)
    assert rc == 0, out + err


async def test_removed_entry_fails_loudly(feed_stack: FeedStack, story: Story) -> None:
    victim = await entry_at(feed_stack, 4)
    async with tampering(
        feed_stack,
        "DELETE FROM feed_log_leaves WHERE entry_seq = "
        f"(SELECT seq FROM feed_entries WHERE id = '{victim['id']}')",
        f"UPDATE feed_entries SET corrects_seq = NULL WHERE corrects_seq = "
        f"(SELECT seq FROM feed_entries WHERE id = '{victim['id']}')",
        f"DELETE FROM feed_entries WHERE id = '{victim['id']}'",
    ):
        rc, out, err = await verify(feed_stack)
        assert rc == 1, out + err
        assert "VERIFICATION FAILED" in err
        assert "removed" in err
    rc, out, err = await verify(feed_stack)
    assert rc == 0, out + err


async def test_reordered_entries_fail_loudly(feed_stack: FeedStack, story: Story) -> None:
    async with tampering(
        feed_stack,
        "UPDATE feed_log_leaves SET leaf_index = -1 WHERE leaf_index = 5",
        "UPDATE feed_log_leaves SET leaf_index = 5 WHERE leaf_index = 6",
        "UPDATE feed_log_leaves SET leaf_index = 6 WHERE leaf_index = -1",
    ):
        rc, out, err = await verify(feed_stack)
        assert rc == 1, out + err
        assert "do not hash to the signed root" in err
        assert "first bad entry: leaf 5" in err
    rc, out, err = await verify(feed_stack)
    assert rc == 0, out + err


async def test_history_rewritten_with_the_key_is_caught_by_consistency(
    feed_stack: FeedStack, story: Story, tmp_path: Path
) -> None:
    """Last in the module: it rewrites the log for good."""
    state = tmp_path / "head.json"
    rc, out, err = await verify(feed_stack, "--state", str(state))
    assert rc == 0, out + err
    size = json.loads(state.read_text())["tree_size"]
    victim = await entry_at(feed_stack, 1)
    await execute_as_attacker(
        feed_stack,
        [
            "ALTER TABLE feed_entries DISABLE TRIGGER feed_entries_no_update",
            "UPDATE feed_entries SET title = title || '（改写）' WHERE id = $1",
            "ALTER TABLE feed_entries ENABLE TRIGGER feed_entries_no_update",
            # TRUNCATE bypasses the row triggers: the attacker rebuilds the whole log, and
            # the service's own checkpointer re-signs it with the real key
            "TRUNCATE feed_tree_heads, feed_log_nodes, feed_log_leaves",
        ],
        uuid.UUID(str(victim["id"])),
    )
    await feed_stack.wait_for_head(size)
    rc, out, err = await verify(feed_stack)
    assert rc == 0, "a self-consistent rewritten log passes on its own: " + out + err
    rc, out, err = await verify(feed_stack, "--state", str(state))
    assert rc == 1, out + err
    assert "VERIFICATION FAILED" in err
    assert "forked" in err or "not an extension" in err
