"""Replaying dead letters stored without their payload, against the real broker.

A record just under the broker's size limit fits its topic but not with the ``dlq_*`` headers,
so the consumer stores its dead letter without the value (``dlq_value_omitted``), and without
the original headers when those are the bulk. The replay reads the original back from its
source topic at ``dlq_original_topic/partition/offset`` and re-injects exactly that record;
when the source no longer holds it, the replay reports it as unrecoverable.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.messaging.consumer import PermanentError
from shared.messaging.envelope import CloudEvent
from shared.messaging.replay import (
    ReplayReport,
    list_outstanding,
    print_report,
    replay,
    resolve,
)
from shared.messaging.replay_markers import marker_topic
from shared.messaging.replay_source import SourceGone, SourceReader
from tests.conftest import KAFKA_BOOTSTRAP, TOPIC_PREFIX, _extra_topics
from tests.integration.conftest import committed_offset, eventually, read_all
from tests.integration.test_consumer import (
    TYPE,
    apply_gift,
    count,
    event,
    produce,
    runner,
    running,
)

pytestmark = pytest.mark.integration

MAX_REQUEST_SIZE = 1_048_576  # the producers' default record limit


def near_limit(ev: CloudEvent, *, in_header: bool) -> tuple[list[tuple[str, bytes]], bytes]:
    """``ev`` as a record just under the size limit: padded in its value (an extra field of
    the data, ignored by the handler) or in an extra header."""
    headers, value = ev.headers(), ev.value()
    size = MAX_REQUEST_SIZE - 400
    while True:
        blob = "x" * size
        if in_header:
            record_headers, record_value = [*headers, ("x-blob", blob.encode())], value
        else:
            data = {**json.loads(value), "padding": blob}
            record_headers, record_value = headers, json.dumps(data).encode()
        estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            b"k", record_value, record_headers
        )
        if estimate >= MAX_REQUEST_SIZE - 32:
            return record_headers, record_value
        size += MAX_REQUEST_SIZE - 32 - estimate


class Buggy:
    """A handler that refuses every event until the fix is deployed."""

    def __init__(self) -> None:
        self.fixed = False

    async def __call__(self, session: AsyncSession, e: CloudEvent) -> None:
        if not self.fixed:
            raise PermanentError("bug: cannot apply this gift yet")
        await apply_gift(session, e)


async def _dead_letters(topic: str, expect: int) -> list[Any]:
    dead: list[Any] = await read_all(topic + ".dlq", expect=expect)
    assert len(dead) == expect
    return dead


@pytest.mark.parametrize("in_header", [False, True], ids=["big_value", "big_header"])
async def test_a_dead_letter_without_its_payload_is_replayed_from_the_source_once(
    engine: AsyncEngine, scratch_topic: str, in_header: bool
) -> None:
    _extra_topics.append(marker_topic(scratch_topic + ".dlq"))  # deleted after the session
    marker = uuid.uuid4()
    ev = event(marker)
    headers, value = near_limit(ev, in_header=in_header)
    await produce(scratch_topic, [(headers, value)])
    handler = Buggy()
    r = runner(engine, scratch_topic, {TYPE: handler})
    async with running(r):

        async def dead_lettered() -> bool:
            return await committed_offset(r.name, scratch_topic) == 1

        await eventually(dead_lettered)
        (dead,) = await _dead_letters(scratch_topic, 1)
        dead_headers = dict(dead.headers)
        assert dead.value is None, "stored without its payload"
        assert int(dead_headers["dlq_value_omitted"]) == len(value)
        assert ("ce_id" in dead_headers) is not in_header  # big headers: dropped too

        handler.fixed = True
        dlq = scratch_topic + ".dlq"
        dry = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP, dry_run=True)
        assert (dry.replayed, dry.from_source, dry.unrecoverable) == ([ev.id], [ev.id], [])
        report = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert (report.replayed, report.from_source, report.unrecoverable) == (
            [ev.id],
            [ev.id],
            [],
        )

        async def applied() -> bool:
            return await count(engine, marker) == 1

        await eventually(applied)
        again = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert (again.replayed, again.unrecoverable) == ([], []), "replayed once"

        async def both_consumed() -> bool:
            return await committed_offset(r.name, scratch_topic) == 2

        await eventually(both_consumed)
    assert await count(engine, marker) == 1
    records: list[Any] = await read_all(scratch_topic, expect=2)
    original, reinjected = records
    assert reinjected.key == original.key == b"k"
    assert reinjected.value == original.value == value
    assert list(reinjected.headers) == list(original.headers) == headers  # ce_id included
    assert len(await read_all(scratch_topic, expect=3, timeout=2)) == 2


async def _delete_before(topic: str, offset: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(offset)})
    finally:
        await admin.close()


async def test_a_dead_letter_whose_source_is_gone_is_reported_and_the_others_replayed(
    engine: AsyncEngine, scratch_topic: str
) -> None:
    _extra_topics.append(marker_topic(scratch_topic + ".dlq"))  # deleted after the session
    big_marker, small_marker = uuid.uuid4(), uuid.uuid4()
    big, small = event(big_marker), event(small_marker)
    await produce(
        scratch_topic, [near_limit(big, in_header=False), (small.headers(), small.value())]
    )
    handler = Buggy()
    r = runner(engine, scratch_topic, {TYPE: handler})
    dlq = scratch_topic + ".dlq"
    async with running(r):

        async def dead_lettered() -> bool:
            return await committed_offset(r.name, scratch_topic) == 2

        await eventually(dead_lettered)
        await _dead_letters(scratch_topic, 2)
        # retention passes over the big record's offset (0) in the source topic
        await _delete_before(scratch_topic, 1)

        # the command line: the unrecoverable dead letter named, exit status 1
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.messaging.replay", dlq, "--dry-run"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SUNSHINE_KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP},
        )
        assert cli.returncode == 1, cli.stdout + cli.stderr
        assert f"UNRECOVERABLE: {big.id} (DLQ partition 0 offset 0" in cli.stdout
        assert "retention passed" in cli.stdout
        assert f"would replay: {small.id}" in cli.stdout

        handler.fixed = True
        report = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert report.replayed == [small.id]
        assert [u.event_id for u in report.unrecoverable] == [big.id]
        lost = report.unrecoverable[0]
        assert (lost.original_topic, lost.original_partition, lost.original_offset) == (
            scratch_topic,
            0,
            0,
        )
        assert (lost.dlq_partition, lost.dlq_offset) == (0, 0)
        assert "before the partition's first offset 1" in lost.reason

        async def small_applied() -> bool:
            return await count(engine, small_marker) == 1

        await eventually(small_applied)
        # not handled: it stays outstanding, reported by every replay and listed, until the
        # operator resolves it; the small one, replayed, is not re-injected again
        again = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert again.replayed == []
        assert [u.event_id for u in again.unrecoverable] == [big.id]
        listed = await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert [d.event_id for d in listed.outstanding] == [big.id]
        assert listed.outstanding[0].value_omitted is not None
        resolved = await resolve(dlq, bootstrap=KAFKA_BOOTSTRAP, event_ids={big.id})
        assert resolved.resolved == [big.id]
        assert (await list_outstanding(dlq, bootstrap=KAFKA_BOOTSTRAP)).outstanding == []
        last = await replay(dlq, bootstrap=KAFKA_BOOTSTRAP)
        assert (last.replayed, last.unrecoverable) == ([], [])
        assert len(await read_all(dlq, expect=2)) == 2  # the dead letters stay on the DLQ
    assert await count(engine, big_marker) == 0
    # the source: the small record and its re-injected copy, nothing for the big one
    consumer = AIOKafkaConsumer(
        scratch_topic, bootstrap_servers=KAFKA_BOOTSTRAP, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(scratch_topic, 0)
        assert (await consumer.end_offsets([tp]))[tp] == 3
    finally:
        await consumer.stop()


async def test_the_source_reader_tells_a_gone_record_from_a_present_one(scratch_topic: str) -> None:
    ev = event(uuid.uuid4())
    await produce(scratch_topic, [(ev.headers(), ev.value())])
    reader = SourceReader(KAFKA_BOOTSTRAP, timeout_s=10)
    try:
        record = await reader.fetch(scratch_topic, 0, 0)
        assert (record.offset, record.value) == (0, ev.value())
        with pytest.raises(SourceGone, match="past the partition's end 1"):
            await reader.fetch(scratch_topic, 0, 5)
        with pytest.raises(SourceGone, match="has no partition 3"):
            await reader.fetch(scratch_topic, 3, 0)
        with pytest.raises(SourceGone, match="no longer exists"):
            await reader.fetch(f"{TOPIC_PREFIX}never-created.{uuid.uuid4().hex[:8]}", 0, 0)
    finally:
        await reader.stop()


def test_the_report_names_each_unrecoverable_dead_letter_and_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shared.messaging.replay import Unrecoverable

    report = ReplayReport(replayed=["a", "b"], from_source=["b"])
    assert print_report(report, "x.dlq") == 0
    report.unrecoverable.append(
        Unrecoverable("c", 2, 7, "x", 4, 99, "offset 99 is before the partition's first offset 120")
    )
    assert print_report(report, "x.dlq") == 1
    out = capsys.readouterr()
    assert "replayed 2 (1 read back from the source topic), skipped 0, unrecoverable 1" in out.out
    assert "  replayed: b (from the source topic)" in out.out
    assert (
        "UNRECOVERABLE: c (DLQ partition 2 offset 7; original x partition 4 offset 99)" in out.out
    )
