"""A selective replay never passes over the dead letters it did not handle, against the real
broker: progress is kept per dead letter (markers on ``<dlq>.replayed``), and the replay
group's offset is committed only up to the first dead letter not handled yet."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging import replay_markers
from shared.messaging.replay import DEFAULT_GROUP, list_outstanding, replay, resolve
from shared.messaging.replay_markers import marker_topic
from tests.conftest import KAFKA_BOOTSTRAP, _extra_topics
from tests.integration.conftest import committed_offset, eventually, read_all
from tests.integration.test_consumer import TYPE, count, event, produce, runner, running
from tests.integration.test_replay_from_source import Buggy

pytestmark = pytest.mark.integration


async def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.messaging.replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SUNSHINE_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP},
    )


async def _ce_ids(topic: str, expect: int) -> collections.Counter[str]:
    records: list[Any] = await read_all(topic, expect=expect + 1, timeout=3)
    return collections.Counter(dict(r.headers)["ce_id"].decode() for r in records)


async def test_replaying_one_of_three_leaves_the_other_two_for_the_full_replay(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    dlq = scratch_topic + ".dlq"
    _extra_topics.append(marker_topic(dlq))  # deleted after the session
    markers = [uuid.uuid4() for _ in range(3)]
    first, chosen, last = events = [event(m) for m in markers]
    await produce(scratch_topic, [(e.headers(), e.value()) for e in events])
    handler = Buggy()
    r = runner(engine, scratch_topic, {TYPE: handler})
    async with running(r):

        async def dead_lettered() -> bool:
            return await committed_offset(r.name, scratch_topic) == 3

        await eventually(dead_lettered)
        assert len(await read_all(dlq, expect=3)) == 3
        handler.fixed = True

        # the chosen one only (the one in the middle): the others are skipped, not passed over
        report = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, event_ids={chosen.id})
        assert report.replayed == [chosen.id]
        assert report.skipped == [first.id, last.id]
        assert [d.event_id for d in report.outstanding] == [first.id, last.id]
        assert await committed_offset(DEFAULT_GROUP, dlq) == -1, "not past the first one"

        async def chosen_applied() -> bool:
            return await count(engine, markers[1]) == 1

        await eventually(chosen_applied)
        # the same selective replay again re-injects nothing; the id is reported not found
        again = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, event_ids={chosen.id})
        assert (again.replayed, again.not_found) == ([], [chosen.id])

        # the two others are listed, on the command line too
        listed = await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert [d.event_id for d in listed.outstanding] == [first.id, last.id]
        assert listed.outstanding[0].error_type == "PermanentError"
        assert listed.outstanding[0].consumer == r.name
        cli = await _cli(dlq, "--list")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert f"2 outstanding dead letter(s) on {dlq}" in cli.stdout
        assert f"outstanding: {first.id} (DLQ partition 0 offset 0" in cli.stdout
        assert f"outstanding: {last.id} (DLQ partition 0 offset 2" in cli.stdout
        assert chosen.id not in cli.stdout

        # the full replay: exactly the other two, once; then nothing
        dry = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, dry_run=True)
        assert dry.replayed == [first.id, last.id]
        full = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert (full.replayed, full.skipped, full.outstanding) == ([first.id, last.id], [], [])
        assert full.already_handled == 1
        assert await committed_offset(DEFAULT_GROUP, dlq) == 3
        twice = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert (twice.replayed, twice.already_handled) == ([], 0)
        assert (await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP)).outstanding == []

        async def all_applied() -> bool:
            return [await count(engine, m) for m in markers] == [1, 1, 1]

        await eventually(all_applied)
    # the source: each event twice (the original and one re-injection), nothing more
    assert await _ce_ids(scratch_topic, 6) == {e.id: 2 for e in events}
    # a new replay group starts at the DLQ's beginning: the markers still hold
    fresh = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, group=f"{scratch_topic}.other-replay")
    assert (fresh.replayed, fresh.already_handled) == ([], 3)
    assert await _ce_ids(scratch_topic, 6) == {e.id: 2 for e in events}


def _dead_letter(
    ev: Any, original_topic: str, offset: int
) -> tuple[list[tuple[str, bytes]], bytes]:
    return [
        *ev.headers(),
        ("dlq_error_type", b"PermanentError"),
        ("dlq_error", b"bug"),
        ("dlq_consumer", b"tests"),
        ("dlq_original_topic", original_topic.encode()),
        ("dlq_original_partition", b"0"),
        ("dlq_original_offset", str(offset).encode()),
    ], ev.value()


async def test_an_offset_committed_past_a_dead_letter_is_recovered_with_from_beginning(
    scratch_topic: str,
) -> None:
    """The replay before per-dead-letter markers committed its group past the dead letters a
    selective replay skipped: ``--from-beginning`` lists and replays them again."""
    dlq = scratch_topic + ".dlq"
    _extra_topics.append(marker_topic(dlq))
    events = [event(uuid.uuid4()) for _ in range(3)]
    await produce(dlq, [_dead_letter(e, scratch_topic, i) for i, e in enumerate(events)])
    group = f"{scratch_topic}.old-replay"
    # no auto-commit: on stop it would commit the position it fetched meanwhile (the
    # partition's end, by the default reset "latest") over the offset this sets
    old = AIOKafkaConsumer(
        bootstrap_servers=KAFKA_BOOTSTRAP, group_id=group, enable_auto_commit=False
    )
    await old.start()
    try:
        tp = TopicPartition(dlq, 0)
        old.assign([tp])
        await old.commit({tp: 2})  # as the old replay left it after `--event-id <the last>`
    finally:
        await old.stop()

    hidden = await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP, group=group)
    assert [d.event_id for d in hidden.outstanding] == [events[2].id]
    everything = await list_outstanding(
        dlq, bootstrap=KAFKA_BOOTSTRAP, group=group, from_beginning=True
    )
    assert [d.event_id for d in everything.outstanding] == [e.id for e in events]
    report = await replay(
        dlq, bootstrap=KAFKA_BOOTSTRAP, group=group, from_beginning=True, event_ids={events[0].id}
    )
    assert report.replayed == [events[0].id]
    # the group's offset goes back to the first dead letter not handled: a run without
    # --from-beginning sees it again
    assert await committed_offset(group, dlq) == 1
    visible = await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP, group=group)
    assert [d.event_id for d in visible.outstanding] == [events[1].id, events[2].id]
    rest = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, group=group)
    assert rest.replayed == [events[1].id, events[2].id]
    assert await committed_offset(group, dlq) == 3
    assert await _ce_ids(scratch_topic, 3) == {e.id: 1 for e in events}


async def test_resolve_marks_without_reinjecting_and_markers_of_deleted_dead_letters_go(
    scratch_topic: str,
) -> None:
    dlq = scratch_topic + ".dlq"
    _extra_topics.append(marker_topic(dlq))
    events = [event(uuid.uuid4()) for _ in range(3)]
    await produce(dlq, [_dead_letter(e, scratch_topic, i) for i, e in enumerate(events)])

    cli = await _cli(dlq, "--resolve")
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "--event-id" in cli.stderr
    cli = await _cli(dlq, "--resolve", "--event-id", events[1].id, "--event-id", "nope")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"resolved 1, skipped 2 from {dlq}" in cli.stdout
    assert f"resolved (not re-injected): {events[1].id}" in cli.stdout
    assert f"no outstanding dead letter nope on {dlq}" in cli.stderr
    listed = await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP)
    assert [d.event_id for d in listed.outstanding] == [events[0].id, events[2].id]
    # by DLQ position too (a dead letter without a ce_id has no other name)
    by_position = await resolve(dlq, bootstrap=KAFKA_BOOTSTRAP, event_ids={"0:0"})
    assert by_position.resolved == [events[0].id]
    report = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
    assert report.replayed == [events[2].id]
    assert await _ce_ids(scratch_topic, 1) == {events[2].id: 1}

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        assert set(await replay_markers.load(KAFKA_BOOTSTRAP, admin, dlq)) == {
            (0, 0),
            (0, 1),
            (0, 2),
        }
        # retention passes over the first two dead letters: their markers are tombstoned
        await admin.delete_records({TopicPartition(dlq, 0): RecordsToDelete(2)})
        await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert set(await replay_markers.load(KAFKA_BOOTSTRAP, admin, dlq)) == {(0, 2)}
    finally:
        await admin.close()


async def test_an_unknown_dlq_is_an_error(scratch_topic: str) -> None:
    with pytest.raises(ValueError, match="no topic"):
        await replay(scratch_topic + ".missing.dlq", bootstrap=KAFKA_BOOTSTRAP)
    cli = await _cli(scratch_topic + ".missing.dlq", "--list")
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "no topic" in cli.stderr
