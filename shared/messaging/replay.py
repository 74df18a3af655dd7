"""Re-inject dead letters into their original topic once the cause is fixed.

    python -m shared.messaging.replay <topic>.dlq [--event-id ID ...] [--dry-run]
        [--bootstrap HOST:PORT] [--group NAME]

Reads the dead-letter topic with its own consumer group (default ``sunshine.dlq-replay``), so
each dead letter is replayed once: the replay's offset is committed only after the original
topic acknowledged the re-sent record. The ``dlq_*`` error headers are dropped; key, value and
CloudEvents headers are kept, so consumers' inboxes still recognise an event they applied.
``--event-id`` replays only the named events (others are skipped and counted as such);
``--dry-run`` lists what would be replayed and commits nothing.

A dead letter stored without its payload (``dlq_value_omitted``: the record and the error
headers together were too large for the broker) is re-injected from its source: the original
record is read back at ``dlq_original_topic/partition/offset`` (a consumer of its own, no
group, assign + seek) and sent exactly as it was, key, value and headers (``ce_id``
included). When the source no longer holds it (retention passed, records deleted, compacted
away, the topic deleted, or another record at that offset) the dead letter is reported as
*unrecoverable* with the reason and its place on the DLQ; it counts as handled (the replay's
offset moves past it, the dead letter itself stays on the DLQ) and the command exits with
status 1. A broker error while reading the source stops the replay (exit status 2) before
that dead letter is committed: run it again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

from shared.messaging.consumer import DLQ_SUFFIX
from shared.messaging.relay import create_producer

DLQ_HEADER_PREFIX = "dlq_"
VALUE_OMITTED = "dlq_value_omitted"
SOURCE_FETCH_TIMEOUT_S = 10.0
# A source record may be as large as the broker allows (about 1 MiB); fetch it whole.
SOURCE_FETCH_BYTES = 8 * 1024 * 1024

Headers = list[tuple[str, Any]]


@dataclass(frozen=True)
class Unrecoverable:
    """A dead letter without its payload whose original the source no longer holds."""

    event_id: str
    dlq_partition: int
    dlq_offset: int
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.event_id} (DLQ partition {self.dlq_partition} offset {self.dlq_offset}; "
            f"original {self.original_topic} partition {self.original_partition} "
            f"offset {self.original_offset}): {self.reason}"
        )


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # of ``replayed``: dead letters without a payload, re-injected from the source topic
    from_source: list[str] = field(default_factory=list)
    unrecoverable: list[Unrecoverable] = field(default_factory=list)


class SourceGone(Exception):
    """The original record of a dead letter is no longer in its source topic."""


class ReplayStopped(Exception):
    """A broker error while reading a source record; nothing after it was committed."""


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace") if value is not None else None
    return None


def _int_header(headers: Headers, name: str) -> int | None:
    value = _header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class SourceReader:
    """Reads single records back from their source topics: one group-less consumer, started
    on first use (dead letters without a payload are rare)."""

    def __init__(self, bootstrap: str, *, timeout_s: float = SOURCE_FETCH_TIMEOUT_S) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def _started(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",  # out of range: an error, never another record
                max_partition_fetch_bytes=SOURCE_FETCH_BYTES,
                fetch_max_bytes=SOURCE_FETCH_BYTES,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer, self._admin

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    @staticmethod
    async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> set[int] | None:
        """The topic's partitions; None when the broker does not know the topic."""
        for described in await admin.describe_topics([topic]):
            if described["topic"] == topic and described["error_code"] == 0:
                return {p["partition"] for p in described["partitions"]}
        return None

    async def fetch(self, topic: str, partition: int, offset: int) -> ConsumerRecord[Any, Any]:
        """The record at ``topic/partition/offset``; :class:`SourceGone` when the topic no
        longer holds it, :class:`ReplayStopped` on a broker error."""
        try:
            return await self._fetch(topic, partition, offset)
        except OffsetOutOfRangeError as exc:  # deleted between the offsets check and the fetch
            raise SourceGone(f"offset {offset} is out of range (retention passed)") from exc
        except (KafkaError, TimeoutError) as exc:
            raise ReplayStopped(
                f"cannot read {topic} partition {partition} offset {offset}: {exc!r}"
            ) from exc

    async def _fetch(self, topic: str, partition: int, offset: int) -> ConsumerRecord[Any, Any]:
        consumer, admin = await self._started()
        partitions = await self._partitions(admin, topic)
        if partitions is None:
            raise SourceGone(f"topic {topic} no longer exists")
        if partition not in partitions:
            raise SourceGone(f"topic {topic} has no partition {partition}")
        tp = TopicPartition(topic, partition)
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if offset < first:
            raise SourceGone(
                f"offset {offset} is before the partition's first offset {first} "
                "(retention passed or records deleted)"
            )
        if offset >= end:
            raise SourceGone(
                f"offset {offset} is past the partition's end {end} (the topic was recreated?)"
            )
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=1)
            for record in batches.get(tp, []):
                if record.offset != offset:
                    raise SourceGone(
                        f"no record at offset {offset} any more (compacted away; "
                        f"the next one is at {record.offset})"
                    )
                return record
            if await consumer.position(tp) > offset:
                raise SourceGone(f"no record at offset {offset} any more (compacted away)")
        raise TimeoutError(f"no answer within {self._timeout_s:.0f}s")


def _check_same(dead: ConsumerRecord[Any, Any], original: ConsumerRecord[Any, Any]) -> None:
    """The record read back is the one that was dead-lettered, as far as the dead letter
    tells: the same key, ``ce_id`` and value length."""
    dead_headers = list(dead.headers or ())
    original_headers = list(original.headers or ())
    dead_id, original_id = _header(dead_headers, "ce_id"), _header(original_headers, "ce_id")
    if dead_id is not None and dead_id != original_id:
        raise SourceGone(f"the record at that offset is another event (ce_id {original_id})")
    if dead.key != original.key:
        raise SourceGone("the record at that offset has another key")
    size = _int_header(dead_headers, VALUE_OMITTED)
    if size is not None and size != len(original.value or b""):
        raise SourceGone(
            f"the record at that offset has {len(original.value or b'')} bytes, "
            f"the dead-lettered one had {size}"
        )


async def replay(
    dlq_topic: str,
    *,
    bootstrap: str,
    group: str = "sunshine.dlq-replay",
    event_ids: set[str] | None = None,
    dry_run: bool = False,
    idle_timeout_s: float = 3.0,
    source_timeout_s: float = SOURCE_FETCH_TIMEOUT_S,
) -> ReplayReport:
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (no {DLQ_SUFFIX} suffix)")
    report = ReplayReport()
    consumer = AIOKafkaConsumer(
        dlq_topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = create_producer(bootstrap)
    source = SourceReader(bootstrap, timeout_s=source_timeout_s)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(idle_timeout_s * 1000))
            if not batches:
                return report
            for tp, records in batches.items():
                done = -1  # the offset of the last dead letter of this batch handled
                try:
                    for record in records:
                        await _replay_one(
                            record, dlq_topic, producer, source, report, event_ids, dry_run
                        )
                        done = record.offset
                finally:  # what was handled stays handled, even if the batch stopped midway
                    if not dry_run and done >= 0:
                        await consumer.commit({tp: done + 1})
    finally:
        await source.stop()
        await consumer.stop()
        await producer.stop()


async def _replay_one(
    record: ConsumerRecord[Any, Any],
    dlq_topic: str,
    producer: Any,
    source: SourceReader,
    report: ReplayReport,
    event_ids: set[str] | None,
    dry_run: bool,
) -> None:
    headers: Headers = list(record.headers or ())
    event_id = _header(headers, "ce_id")
    original_topic = _header(headers, "dlq_original_topic") or dlq_topic.removesuffix(DLQ_SUFFIX)
    if event_ids is not None and event_id is not None and event_id not in event_ids:
        report.skipped.append(event_id)
        return
    key, value = record.key, record.value
    resend = [h for h in headers if not h[0].startswith(DLQ_HEADER_PREFIX)]
    omitted = _header(headers, VALUE_OMITTED) is not None
    if omitted:  # the payload is only in the source topic: read it back
        partition = _int_header(headers, "dlq_original_partition")
        offset = _int_header(headers, "dlq_original_offset")
        try:
            if partition is None or offset is None:
                raise SourceGone("the dead letter does not name its original partition/offset")
            original = await source.fetch(original_topic, partition, offset)
            _check_same(record, original)
        except SourceGone as gone:
            report.unrecoverable.append(
                Unrecoverable(
                    event_id=event_id or f"{record.partition}:{record.offset}",
                    dlq_partition=record.partition,
                    dlq_offset=record.offset,
                    original_topic=original_topic,
                    original_partition=partition,
                    original_offset=offset,
                    reason=str(gone),
                )
            )
            return
        key, value, resend = original.key, original.value, list(original.headers or ())
        event_id = event_id or _header(resend, "ce_id")
    event_id = event_id or f"{record.partition}:{record.offset}"
    if event_ids is not None and event_id not in event_ids:
        report.skipped.append(event_id)
        return
    if not dry_run:
        await producer.send_and_wait(original_topic, value=value, key=key, headers=resend)
    report.replayed.append(event_id)
    if omitted:
        report.from_source.append(event_id)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("dlq_topic")
    parser.add_argument("--event-id", action="append", dest="event_ids")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--group", default="sunshine.dlq-replay")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    try:
        report = asyncio.run(
            replay(
                args.dlq_topic,
                bootstrap=args.bootstrap,
                group=args.group,
                event_ids=set(args.event_ids) if args.event_ids else None,
                dry_run=args.dry_run,
            )
        )
    except ReplayStopped as exc:
        print(
            f"replay of {args.dlq_topic} stopped: {exc}\n"
            "  dead letters handled before it are committed; run the replay again",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(print_report(report, args.dlq_topic, dry_run=args.dry_run))


def print_report(report: ReplayReport, dlq_topic: str, *, dry_run: bool = False) -> int:
    """Print the report; the exit status: 1 if a dead letter is unrecoverable, else 0."""
    verb = "would replay" if dry_run else "replayed"
    print(
        f"{verb} {len(report.replayed)} ({len(report.from_source)} read back from the source "
        f"topic), skipped {len(report.skipped)}, unrecoverable {len(report.unrecoverable)} "
        f"from {dlq_topic}"
    )
    for event_id in report.replayed:
        note = " (from the source topic)" if event_id in report.from_source else ""
        print(f"  {verb}: {event_id}{note}")
    for lost in report.unrecoverable:
        print(f"  UNRECOVERABLE: {lost}")
    if report.unrecoverable:
        print(
            f"{len(report.unrecoverable)} dead letter(s) had no payload and their original is "
            "gone from the source topic: not re-injected. Recover the event from the "
            "producer's records (see docs/operations.md, dead letters).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    main()
