"""Re-inject dead letters into their original topic once the cause is fixed.

    python -m shared.messaging.replay <topic>.dlq [--event-id ID ...]
        [--dry-run | --list | --resolve] [--from-beginning]
        [--bootstrap HOST:PORT] [--group NAME]

Each dead letter is replayed once, and a dead letter the replay did not handle is never
passed over. Progress is kept per dead letter: once the original topic acknowledged a
re-sent record, the replay writes a marker for that dead letter (its DLQ partition and offset)
on the compacted topic ``<topic>.dlq.replayed`` (see ``shared.messaging.replay_markers``);
a dead letter with a marker is not replayed again, whatever filter the next run has. The
replay's consumer group (default ``sunshine.dlq-replay``) only remembers where to start
reading: its offset on a DLQ partition is committed up to the first dead letter not handled
yet, never past it. The ``dlq_*`` error headers are dropped; key, value and CloudEvents
headers are kept, so consumers' inboxes still recognise an event they applied.

``--event-id`` replays only the named dead letters (by ``ce_id``, or by DLQ position
``<partition>:<offset>`` for one without a ``ce_id``); the others are counted as skipped and
stay outstanding for a later run. ``--dry-run`` tells what would be replayed and writes
nothing. ``--list`` lists every outstanding dead letter (not replayed, not resolved:
unrecoverable ones included) with its error headers, and writes nothing. ``--resolve`` with
``--event-id`` marks the named dead letters as handled without re-injecting them (after the
event was recovered some other way). ``--from-beginning`` reads the DLQ from its first
record instead of the group's offset (markers still apply).

A dead letter stored without its payload (``dlq_value_omitted``: the record and the error
headers together were too large for the broker) is re-injected from its source: the original
record is read back at ``dlq_original_topic/partition/offset`` (a consumer of its own, no
group, assign + seek) and sent exactly as it was, key, value and headers (``ce_id``
included). When the source no longer holds it (retention passed, records deleted, compacted
away, the topic deleted, or another record at that offset) the dead letter is reported as
*unrecoverable* with the reason and its place on the DLQ; it stays outstanding (listed by
``--list``, reported again by every replay until it is resolved) and the command exits with
status 1. A broker error while reading the source, writing a marker or reading the DLQ to its
end stops the replay (exit status 2); what was handled before it is recorded: run it again.
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
from aiokafka.errors import KafkaError

from shared.messaging import replay_markers as markers_
from shared.messaging.consumer import DLQ_SUFFIX
from shared.messaging.relay import create_producer
from shared.messaging.replay_source import (
    SOURCE_FETCH_TIMEOUT_S,
    VALUE_OMITTED,
    Headers,
    ReplayStopped,
    SourceGone,
    SourceReader,
    check_same_record,
    header,
    int_header,
)

DLQ_HEADER_PREFIX = "dlq_"
DEFAULT_GROUP = "sunshine.dlq-replay"


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


@dataclass(frozen=True)
class DeadLetter:
    """An outstanding dead letter as its headers describe it (for ``--list``)."""

    event_id: str  # its ce_id, or its DLQ position "<partition>:<offset>" when it has none
    dlq_partition: int
    dlq_offset: int
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    consumer: str | None
    error_type: str | None
    error: str | None
    failed_at: str | None
    value_omitted: int | None  # bytes of the payload kept only in the source topic

    def __str__(self) -> str:
        error = (self.error or "").replace("\n", " ")
        if len(error) > 160:
            error = error[:157] + "..."
        omitted = (
            f"; payload omitted ({self.value_omitted} bytes, only in the source topic)"
            if self.value_omitted is not None
            else ""
        )
        return (
            f"{self.event_id} (DLQ partition {self.dlq_partition} offset {self.dlq_offset}; "
            f"original {self.original_topic} partition {self.original_partition} "
            f"offset {self.original_offset}; consumer {self.consumer}; "
            f"failed at {self.failed_at}{omitted}): {self.error_type}: {error}"
        )


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    # filtered out by --event-id: not handled, they stay outstanding
    skipped: list[str] = field(default_factory=list)
    # of ``replayed``: dead letters without a payload, re-injected from the source topic
    from_source: list[str] = field(default_factory=list)
    unrecoverable: list[Unrecoverable] = field(default_factory=list)
    # --resolve: marked as handled without re-injecting
    resolved: list[str] = field(default_factory=list)
    # every dead letter read and left not handled (skipped, unrecoverable; all of them for --list)
    outstanding: list[DeadLetter] = field(default_factory=list)
    # dead letters read that a marker says were handled by an earlier run
    already_handled: int = 0
    # --event-id values that matched no outstanding dead letter
    not_found: list[str] = field(default_factory=list)


def _describe(record: ConsumerRecord[Any, Any], dlq_topic: str) -> DeadLetter:
    headers: Headers = list(record.headers or ())
    return DeadLetter(
        event_id=header(headers, "ce_id") or f"{record.partition}:{record.offset}",
        dlq_partition=record.partition,
        dlq_offset=record.offset,
        original_topic=header(headers, "dlq_original_topic") or dlq_topic.removesuffix(DLQ_SUFFIX),
        original_partition=int_header(headers, "dlq_original_partition"),
        original_offset=int_header(headers, "dlq_original_offset"),
        consumer=header(headers, "dlq_consumer"),
        error_type=header(headers, "dlq_error_type"),
        error=header(headers, "dlq_error"),
        failed_at=header(headers, "dlq_failed_at"),
        value_omitted=int_header(headers, VALUE_OMITTED),
    )


@dataclass
class _Progress:
    """One DLQ partition in this run: where reading started and ends, and how far the dead
    letters read are all handled."""

    start: int
    end: int
    read_up_to: int  # every offset below it was read (and handled or not)
    committed: int  # the group's offset when the run started (``start`` when it had none)
    first_unhandled: int | None = None
    complete: bool = False

    def read(self, offset: int, *, handled: bool) -> None:
        if not handled and self.first_unhandled is None:
            self.first_unhandled = offset
        self.read_up_to = offset + 1

    def watermark(self) -> int:
        """The offset the replay group may commit: nothing below it is left unhandled."""
        if self.first_unhandled is not None:
            return self.first_unhandled
        return self.end if self.complete else self.read_up_to


REPLAY, DRY_RUN, LIST, RESOLVE = "replay", "dry-run", "list", "resolve"


class _Run:
    def __init__(
        self,
        dlq_topic: str,
        mode: str,
        event_ids: set[str] | None,
        markers: dict[markers_.Position, markers_.Marker],
        producer: Any,
        source: SourceReader,
        admin: AIOKafkaAdminClient,
        replicas: int,
    ) -> None:
        self.dlq_topic = dlq_topic
        self.mode = mode
        self.event_ids = event_ids
        self.markers = markers
        self.producer = producer
        self.source = source
        self.admin = admin
        self.replicas = replicas
        self.report = ReplayReport()
        self.matched: set[str] = set()
        self._marker_topic_ready = False

    def _selected(self, *ids: str | None) -> bool:
        if self.event_ids is None:
            return True
        named = {i for i in ids if i is not None} & self.event_ids
        self.matched |= named
        return bool(named)

    def _leave(self, dead: DeadLetter, *, skipped: str | None = None) -> bool:
        if skipped is not None:
            self.report.skipped.append(skipped)
        self.report.outstanding.append(dead)
        return False

    async def _mark(self, record: ConsumerRecord[Any, Any], event_id: str, outcome: str) -> None:
        try:
            if not self._marker_topic_ready:
                await markers_.ensure_topic(self.admin, self.dlq_topic, replicas=self.replicas)
                self._marker_topic_ready = True
            marker = await markers_.put(
                self.producer, self.dlq_topic, record, event_id=event_id, outcome=outcome
            )
        except KafkaError as exc:
            raise ReplayStopped(
                f"cannot record that {event_id} (DLQ partition {record.partition} offset "
                f"{record.offset}) was {outcome} on {markers_.marker_topic(self.dlq_topic)}: "
                f"{exc!r}; a rerun may re-inject it once more (consumers' inboxes skip it)"
            ) from exc
        self.markers[(record.partition, record.offset)] = marker

    async def handle(self, record: ConsumerRecord[Any, Any]) -> bool:
        """Handle one dead letter; True when it is handled for good (replayed or resolved, now
        or before), False when it stays outstanding."""
        marker = self.markers.get((record.partition, record.offset))
        if marker is not None and marker.matches(record):
            self.report.already_handled += 1
            return True
        dead = _describe(record, self.dlq_topic)
        headers: Headers = list(record.headers or ())
        header_id = header(headers, "ce_id")
        position = f"{record.partition}:{record.offset}"
        if self.mode == LIST:
            if self._selected(header_id, position):
                self.report.outstanding.append(dead)
            return False
        named = self.event_ids is None or header_id is None or self._selected(header_id, position)
        if not named:  # known by its ce_id, and not named
            return self._leave(dead, skipped=header_id)
        if self.mode == RESOLVE:
            if not self._selected(header_id, position):
                return self._leave(dead, skipped=dead.event_id)
            await self._mark(record, dead.event_id, markers_.RESOLVED)
            self.report.resolved.append(dead.event_id)
            return True
        return await self._replay(record, dead, header_id, position)

    async def _replay(
        self,
        record: ConsumerRecord[Any, Any],
        dead: DeadLetter,
        header_id: str | None,
        position: str,
    ) -> bool:
        headers: Headers = list(record.headers or ())
        event_id = header_id
        key, value = record.key, record.value
        resend = [h for h in headers if not h[0].startswith(DLQ_HEADER_PREFIX)]
        omitted = dead.value_omitted is not None
        if omitted:  # the payload is only in the source topic: read it back
            try:
                if dead.original_partition is None or dead.original_offset is None:
                    raise SourceGone("the dead letter does not name its original partition/offset")
                original = await self.source.fetch(
                    dead.original_topic, dead.original_partition, dead.original_offset
                )
                check_same_record(record, original)
            except SourceGone as gone:
                if not self._selected(header_id, position):  # its id is unknown: not named
                    return self._leave(dead, skipped=dead.event_id)
                self.report.unrecoverable.append(
                    Unrecoverable(
                        event_id=dead.event_id,
                        dlq_partition=record.partition,
                        dlq_offset=record.offset,
                        original_topic=dead.original_topic,
                        original_partition=dead.original_partition,
                        original_offset=dead.original_offset,
                        reason=str(gone),
                    )
                )
                return self._leave(dead)
            key, value, resend = original.key, original.value, list(original.headers or ())
            event_id = event_id or header(resend, "ce_id")
        event_id = event_id or position
        if not self._selected(event_id, position):
            return self._leave(dead, skipped=event_id)
        if self.mode == DRY_RUN:
            handled = False
        else:
            try:
                await self.producer.send_and_wait(
                    dead.original_topic, value=value, key=key, headers=resend
                )
            except KafkaError as exc:
                raise ReplayStopped(f"cannot re-inject {event_id}: {exc!r}") from exc
            await self._mark(record, event_id, markers_.REPLAYED)
            handled = True
        self.report.replayed.append(event_id)
        if omitted:
            self.report.from_source.append(event_id)
        return handled


async def replay(
    dlq_topic: str,
    *,
    bootstrap: str,
    group: str = DEFAULT_GROUP,
    event_ids: set[str] | None = None,
    dry_run: bool = False,
    idle_timeout_s: float = 10.0,
    source_timeout_s: float = SOURCE_FETCH_TIMEOUT_S,
    from_beginning: bool = False,
    mode: str | None = None,
) -> ReplayReport:
    """Replay the outstanding dead letters of ``dlq_topic`` (those named by ``event_ids``
    only, when given). ``mode`` (``list``, ``resolve``) overrides ``dry_run``; see
    :func:`list_outstanding` and :func:`resolve`. ``idle_timeout_s``: how long the DLQ may
    send nothing before its end is reached (then :class:`ReplayStopped`)."""
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (no {DLQ_SUFFIX} suffix)")
    mode = mode or (DRY_RUN if dry_run else REPLAY)
    if mode not in (REPLAY, DRY_RUN, LIST, RESOLVE):
        raise ValueError(f"unknown mode {mode!r}")
    if mode == RESOLVE and not event_ids:
        raise ValueError("resolve names the dead letters it marks (event_ids)")
    writes = mode in (REPLAY, RESOLVE)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await markers_.topic_partitions(admin, dlq_topic)
        if not partitions:
            raise ValueError(f"the broker has no topic {dlq_topic!r}")
        try:
            markers = await markers_.load(bootstrap, admin, dlq_topic)
        except (KafkaError, TimeoutError) as exc:
            raise ReplayStopped(
                f"cannot read the replay markers ({markers_.marker_topic(dlq_topic)}): {exc!r}"
            ) from exc
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        producer = create_producer(bootstrap)
        source = SourceReader(bootstrap, timeout_s=source_timeout_s)
        await consumer.start()
        await producer.start()
        run = _Run(
            dlq_topic,
            mode,
            event_ids,
            markers,
            producer,
            source,
            admin,
            replicas=max(partitions.values()),
        )
        progress: dict[TopicPartition, _Progress] = {}
        try:
            await _read(
                consumer,
                dlq_topic,
                sorted(partitions),
                run,
                progress,
                from_beginning=from_beginning,
                idle_timeout_s=idle_timeout_s,
            )
            if writes and markers:
                beginnings = await consumer.beginning_offsets(list(progress))
                await markers_.prune(
                    producer,
                    dlq_topic,
                    markers,
                    {tp.partition: offset for tp, offset in beginnings.items()},
                )
        finally:
            try:
                if writes:  # where the next run starts reading, even if this one stopped midway
                    # up, or down to a dead letter an earlier replay passed over (--from-beginning)
                    offsets = {
                        tp: p.watermark()
                        for tp, p in progress.items()
                        if p.watermark() != p.committed
                    }
                    if offsets:
                        try:
                            await consumer.commit(offsets)
                        except KafkaError as exc:  # the markers hold what was handled
                            print(
                                f"the replay group's offsets were not committed ({exc!r}); "
                                "the next run reads from the older ones",
                                file=sys.stderr,
                            )
            finally:
                await source.stop()
                await consumer.stop()
                await producer.stop()
    finally:
        await admin.close()
    report = run.report
    report.not_found = sorted((event_ids or set()) - run.matched)
    return report


async def _read(
    consumer: AIOKafkaConsumer,
    dlq_topic: str,
    partitions: list[int],
    run: _Run,
    progress: dict[TopicPartition, _Progress],
    *,
    from_beginning: bool,
    idle_timeout_s: float,
) -> None:
    """Read each DLQ partition from the group's offset (or its beginning) to the end it had
    when the run started, handing each dead letter to ``run``."""
    tps = [TopicPartition(dlq_topic, p) for p in partitions]
    consumer.assign(tps)
    beginnings = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        committed = await consumer.committed(tp)
        if committed is None or not beginnings[tp] <= committed <= ends[tp]:
            committed = beginnings[tp]  # none, or out of range (retention passed, DLQ recreated)
        start = beginnings[tp] if from_beginning else committed
        consumer.seek(tp, start)
        progress[tp] = _Progress(start=start, end=ends[tp], read_up_to=start, committed=committed)
    pending = set()
    for tp, p in progress.items():
        if p.start < p.end:
            pending.add(tp)
        else:
            p.complete = True
    last_record = time.monotonic()
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=500)
        for tp, records in batches.items():
            p = progress[tp]
            for record in records:
                if record.offset >= p.end:
                    break  # arrived during this run: the next run's
                p.read(record.offset, handled=await run.handle(record))
        if batches:
            last_record = time.monotonic()
        for tp in list(pending):
            if progress[tp].read_up_to >= progress[tp].end or (
                await consumer.position(tp) >= progress[tp].end
            ):
                progress[tp].complete = True
                pending.discard(tp)
        if pending and time.monotonic() - last_record > idle_timeout_s:
            names = ", ".join(str(tp.partition) for tp in sorted(pending))
            raise ReplayStopped(
                f"{dlq_topic} partition(s) {names} sent nothing for {idle_timeout_s:.0f}s "
                "before their end"
            )


async def list_outstanding(
    dlq_topic: str,
    *,
    bootstrap: str,
    group: str = DEFAULT_GROUP,
    event_ids: set[str] | None = None,
    from_beginning: bool = False,
) -> ReplayReport:
    """Every dead letter of ``dlq_topic`` not replayed or resolved yet, in
    ``report.outstanding``; reads only (the source topic is not checked)."""
    return await replay(
        dlq_topic,
        bootstrap=bootstrap,
        group=group,
        event_ids=event_ids,
        from_beginning=from_beginning,
        mode=LIST,
    )


async def resolve(
    dlq_topic: str,
    *,
    bootstrap: str,
    event_ids: set[str],
    group: str = DEFAULT_GROUP,
    from_beginning: bool = False,
) -> ReplayReport:
    """Mark the named outstanding dead letters as handled without re-injecting them (the
    event was recovered another way); they are no longer listed or replayed."""
    return await replay(
        dlq_topic,
        bootstrap=bootstrap,
        group=group,
        event_ids=event_ids,
        from_beginning=from_beginning,
        mode=RESOLVE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("dlq_topic")
    parser.add_argument("--event-id", action="append", dest="event_ids")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--dry-run", action="store_true")
    what.add_argument("--list", action="store_true")
    what.add_argument("--resolve", action="store_true")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--group", default=DEFAULT_GROUP)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    if args.resolve and not args.event_ids:
        parser.error("--resolve marks only the dead letters named with --event-id")
    mode = LIST if args.list else RESOLVE if args.resolve else DRY_RUN if args.dry_run else REPLAY
    try:
        report = asyncio.run(
            replay(
                args.dlq_topic,
                bootstrap=args.bootstrap,
                group=args.group,
                event_ids=set(args.event_ids) if args.event_ids else None,
                from_beginning=args.from_beginning,
                mode=mode,
            )
        )
    except ValueError as exc:
        parser.error(str(exc))
    except ReplayStopped as exc:
        print(
            f"replay of {args.dlq_topic} stopped: {exc}\n"
            "  dead letters handled before it are recorded; run the replay again",
            file=sys.stderr,
        )
        sys.exit(2)
    if mode == LIST:
        sys.exit(print_outstanding(report, args.dlq_topic))
    sys.exit(print_report(report, args.dlq_topic, dry_run=mode == DRY_RUN))


def print_outstanding(report: ReplayReport, dlq_topic: str) -> int:
    """Print the outstanding dead letters (``--list``); the exit status, 0."""
    print(f"{len(report.outstanding)} outstanding dead letter(s) on {dlq_topic}")
    for dead in report.outstanding:
        print(f"  outstanding: {dead}")
    _print_not_found(report, dlq_topic)
    return 0


def _print_not_found(report: ReplayReport, dlq_topic: str) -> None:
    for event_id in report.not_found:
        print(
            f"no outstanding dead letter {event_id} on {dlq_topic} (already replayed or "
            "resolved, or never there)",
            file=sys.stderr,
        )


def print_report(report: ReplayReport, dlq_topic: str, *, dry_run: bool = False) -> int:
    """Print the report; the exit status: 1 if a dead letter is unrecoverable, else 0."""
    verb = "would replay" if dry_run else "replayed"
    if report.resolved:
        print(f"resolved {len(report.resolved)}, skipped {len(report.skipped)} from {dlq_topic}")
    else:
        print(
            f"{verb} {len(report.replayed)} ({len(report.from_source)} read back from the "
            f"source topic), skipped {len(report.skipped)}, unrecoverable "
            f"{len(report.unrecoverable)} from {dlq_topic}"
        )
    for event_id in report.replayed:
        note = " (from the source topic)" if event_id in report.from_source else ""
        print(f"  {verb}: {event_id}{note}")
    for event_id in report.resolved:
        print(f"  resolved (not re-injected): {event_id}")
    for lost in report.unrecoverable:
        print(f"  UNRECOVERABLE: {lost}")
    if report.outstanding:
        print(
            f"{len(report.outstanding)} dead letter(s) left outstanding on {dlq_topic} "
            "(`--list` shows them; a later replay handles them)"
        )
    _print_not_found(report, dlq_topic)
    if report.unrecoverable:
        print(
            f"{len(report.unrecoverable)} dead letter(s) had no payload and their original is "
            "gone from the source topic: not re-injected, still outstanding. Recover the event "
            "from the producer's records, then mark it with --resolve --event-id "
            "(see docs/operations.md, dead letters).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    main()
