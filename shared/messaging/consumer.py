"""Idempotent consumer runner, batched.

Per poll (up to ``max_records`` records over the assigned partitions), for each partition's
records (several partitions side by side, up to ``max_parallel``, each on its own connection):

1. parse each record as a CloudEvent; a malformed one goes to ``<topic>.dlq`` at once, one of
   a type without a handler is counted as ignored;
2. apply the rest in **one** database transaction: the inbox claims in one statement (an event
   claimed before was applied before: skipped), then each event's handler in order, then one
   commit;

then, once every partition batch of the poll is committed, commit the poll's Kafka offsets.

Handlers stay per-event callables ``(session, event)``; the batching is the runner's. A batch
that fails falls back so that the semantics of one transaction per event hold:

- an error raised by one event's handler (not by the database): the events before it are
  applied again as a batch, the failing event goes through the per-event path (its batch try
  counts as attempt 1; retried a bounded number of times, then dead-lettered alone), and the
  events after it as a batch;
- a database error, or one at commit (an ORM flush may belong to an earlier event): the
  events up to it are split in halves and retried, down to single events on the per-event
  path, so a poison event is still isolated and the good ones are applied once;
- an infrastructure error (the database unreachable) is retried without bound, the whole
  batch again: nothing is lost, the inbox turns what did commit into duplicates.

Per-event path (a batch of one, and the fallback): in one transaction claim the event and
apply its handler; handler errors are retried a bounded number of times, then the record goes
to ``<topic>.dlq`` with error headers and the partition moves on; infrastructure errors are
retried without bound, so an outage never dead-letters good events.

``batch=False`` restores one transaction per event for a consumer whose handlers need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError, MessageSizeTooLargeError
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.aio import stop_if_cancelled, within
from shared.faults import failpoint, rejected_event
from shared.logging import event_id_var, trace_id_var
from shared.messaging.envelope import CloudEvent, MalformedEvent, from_kafka
from shared.messaging.inbox import claim, claim_many
from shared.messaging.relay import create_producer
from shared.messaging.tracing import parse_trace_id
from shared.metrics import CONSUMER_LAG, DLQ_MESSAGES, EVENTS_CONSUMED, HANDLER_LATENCY

log = logging.getLogger("sunshine.consumer")

EventHandler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
DLQ_SUFFIX = ".dlq"
LAG_REPORT_INTERVAL_S = 5.0
LAG_POSITION_TIMEOUT_S = 1.0
COMMIT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
MAX_RECORDS = 1000  # per poll, over all assigned partitions
MAX_PARALLEL = 4  # partition batches in flight at once (each holds a database connection)


class PermanentError(Exception):
    """Raised by a handler for an event that can never be applied: dead-lettered at once."""


class ConsumerStalled(RuntimeError):
    """The Kafka client stopped answering; ``run`` ends so that it is started afresh."""


def is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the event: retry without bound."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    transient = (
        OSError,
        ConnectionError,
        OperationalError,
        InterfaceError,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        asyncpg.InterfaceError,
    )
    if isinstance(exc, transient):
        return True
    cause = exc.__cause__ or getattr(exc, "orig", None)
    return isinstance(cause, BaseException) and cause is not exc and is_transient(cause)


@dataclass(slots=True)
class _Work:
    """A parsed record with a handler: one unit of a batch."""

    record: ConsumerRecord[Any, Any]
    event: CloudEvent
    handler: EventHandler


class _BatchFailed(Exception):
    """A batch rolled back. ``index``: the event being handled when it failed (the last one
    for an error at commit); ``alone``: the error is that event's own, not the database's."""

    def __init__(self, index: int, cause: Exception, *, alone: bool) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause
        self.alone = alone


def _enter(event: CloudEvent) -> None:
    """Log context of the event being handled."""
    event_id_var.set(event.id)
    trace_id_var.set(parse_trace_id(event.traceparent))


def _leave() -> None:
    event_id_var.set(None)
    trace_id_var.set(None)


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        service: str,
        topics: list[str],
        handlers: Mapping[str, EventHandler],
        session_factory: async_sessionmaker[AsyncSession],
        bootstrap: str,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
        max_records: int = MAX_RECORDS,
        batch: bool = True,
        max_parallel: int = MAX_PARALLEL,
    ) -> None:
        self.name = name
        self._service = service
        self._topics = topics
        self._handlers = dict(handlers)
        self._session_factory = session_factory
        self._bootstrap = bootstrap
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_s
        self._max_records = max_records
        self._batch = batch
        self._parallel = asyncio.Semaphore(max_parallel)
        self._latencies: dict[str, Histogram] = {}
        self._counters: dict[tuple[str, str], Counter] = {}
        self.connected = False

    def _latency(self, event_type: str) -> Histogram:
        """This consumer's handler-latency histogram for a type (``labels()`` is not cheap)."""
        child = self._latencies.get(event_type)
        if child is None:
            child = HANDLER_LATENCY.labels(self._service, self.name, event_type)
            self._latencies[event_type] = child
        return child

    def _consumed(self, event_type: str, outcome: str) -> Counter:
        child = self._counters.get((event_type, outcome))
        if child is None:
            child = EVENTS_CONSUMED.labels(self._service, self.name, event_type, outcome)
            self._counters[event_type, outcome] = child
        return child

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        dlq = create_producer(self._bootstrap)
        await self._start_with_retry(consumer, dlq)
        lag_reported_at = 0.0
        try:
            while True:
                stop_if_cancelled()
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if self._batch and batches:
                    # one transaction per partition batch, partitions side by side (the
                    # database works on one while Python prepares another); then the offsets
                    async with asyncio.TaskGroup() as group:
                        for records in batches.values():
                            group.create_task(self._process_batch(records, dlq))
                    failpoint("consumer.after_db_commit")  # effects committed, offsets not yet
                    await self._commit(
                        consumer, {tp: rs[-1].offset + 1 for tp, rs in batches.items()}
                    )
                else:
                    for tp, records in batches.items():
                        for record in records:
                            await self._process(record, dlq)
                        failpoint("consumer.after_db_commit")  # effects committed, offset not yet
                        await self._commit(consumer, {tp: records[-1].offset + 1})
                if time.monotonic() - lag_reported_at > LAG_REPORT_INTERVAL_S:
                    await self._report_lag(consumer)
                    lag_reported_at = time.monotonic()
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await within(consumer.stop(), STOP_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await within(dlq.stop(), STOP_TIMEOUT_S)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:  # a position being re-fetched (after a rebalance) is waited for: not here
                position = await within(consumer.position(tp), LAG_POSITION_TIMEOUT_S)
            except (KafkaError, TimeoutError):
                continue
            CONSUMER_LAG.labels(self._service, self.name, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )

    async def _start_with_retry(self, consumer: AIOKafkaConsumer, dlq: Any) -> None:
        delay = 0.5
        while True:
            try:
                await consumer.start()
                await dlq.start()
                self.connected = True
                return
            except KafkaError as exc:
                log.warning(
                    "%s: Kafka not reachable (%s); retrying in %.1fs", self.name, exc, delay
                )
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await within(consumer.commit(offsets), COMMIT_TIMEOUT_S)
        except (CommitFailedError, KafkaError) as exc:
            # A partition was reassigned: whoever owns it now re-reads these records,
            # and the inbox turns them into no-ops.
            log.warning("%s: offset commit failed for %s: %s", self.name, list(offsets), exc)
        except TimeoutError as exc:
            # The client is stuck (seen after a broker was killed: its group coordination
            # had died and the commit never returned). Start over with a new client: the
            # records since the last commit are read again and the inbox skips them.
            raise ConsumerStalled(f"{self.name}: offset commit stalled for {offsets}") from exc

    # --- parsing ------------------------------------------------------------------------------

    async def _parse(self, record: ConsumerRecord[Any, Any], dlq: Any) -> _Work | None:
        """The record's event and handler; None once a malformed record is dead-lettered or
        an event without a handler is counted as ignored."""
        try:
            event = from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            _leave()
            await self._dead_letter(record, dlq, exc, attempts=1, event_type="malformed")
            return None
        handler = self._handlers.get(event.type)
        if handler is None:
            self._consumed(event.type, "ignored").inc()
            return None
        return _Work(record, event, handler)

    # --- batches --------------------------------------------------------------------------------

    async def _process_batch(self, records: Sequence[ConsumerRecord[Any, Any]], dlq: Any) -> None:
        async with self._parallel:
            work = [w for w in [await self._parse(r, dlq) for r in records] if w is not None]
            try:
                await self._apply_batch(work, dlq)
            finally:
                _leave()

    async def _apply_batch(self, work: list[_Work], dlq: Any) -> None:
        while work:
            if len(work) == 1:
                await self._process_one(work[0], dlq)
                return
            try:
                await self._apply_together(work)
                return
            except _BatchFailed as failed:
                i = failed.index
                if failed.alone:
                    await self._apply_batch(work[:i], dlq)  # the events before it were fine
                    await self._process_one(work[i], dlq, failed=failed.cause)
                else:  # a database error of one of work[:i + 1]: halve until it is alone
                    head = work[: i + 1]
                    await self._apply_batch(head[: len(head) // 2], dlq)
                    await self._apply_batch(head[len(head) // 2 :], dlq)
                work = work[i + 1 :]

    async def _apply_together(self, work: list[_Work]) -> None:
        """All of ``work`` in one transaction; infrastructure errors retried without bound,
        any other error raised as :class:`_BatchFailed`."""
        attempt = 0
        while True:
            attempt += 1
            current = -1  # index of the event being handled
            ran = 0  # handlers run in this transaction so far
            committing = False
            outcomes: list[str] = []
            spent: list[float] = []
            started = time.perf_counter()
            try:
                async with self._session_factory() as session, session.begin():
                    fresh = await claim_many(
                        session,
                        consumer=self.name,
                        events=[(w.event.id, w.event.type) for w in work],
                    )
                    for position, w in enumerate(work):
                        current = position
                        if w.event.id not in fresh:
                            outcomes.append("duplicate")
                            spent.append(0.0)
                            continue
                        fresh.discard(w.event.id)  # a second copy in this batch: a duplicate
                        _enter(w.event)
                        handler_started = time.perf_counter()
                        if rejected_event(w.event.id):
                            raise PermanentError(f"fault injection: event {w.event.id} rejected")
                        await w.handler(session, w.event)
                        spent.append(time.perf_counter() - handler_started)
                        outcomes.append("applied")
                        ran += 1
                    _leave()
                    committing = True  # an error now is the commit's (a late flush)
            except Exception as exc:
                failed = work[current] if current >= 0 else None
                _leave()
                if is_transient(exc):
                    delay = min(self._backoff * 2 ** min(attempt, 5), 5.0)
                    log.warning(
                        "%s: transient error in a batch of %d events (offsets %s..%s), "
                        "retrying in %.1fs: %s",
                        self.name,
                        len(work),
                        work[0].record.offset,
                        work[-1].record.offset,
                        delay,
                        exc,
                    )
                    for w in work:
                        self._consumed(w.event.type, "retried").inc()
                    await asyncio.sleep(delay)
                    continue
                if failed is None or committing:  # the claim or the commit: blame none yet
                    index, alone, at = len(work) - 1, False, "the commit" if failed else "the claim"
                else:
                    # A handler's own error is its event's; a database error may come from an
                    # earlier event's pending (auto)flush, unless no handler ran before it.
                    index, alone = current, ran == 0 or not isinstance(exc, SQLAlchemyError)
                    at = f"event {failed.event.id}"
                log.info(
                    "%s: batch of %d events (offsets %s..%s) rolled back at %s, %s: %s",
                    self.name,
                    len(work),
                    work[0].record.offset,
                    work[-1].record.offset,
                    at,
                    "retrying that event alone" if alone else "splitting the batch",
                    exc,
                )
                raise _BatchFailed(index, exc, alone=alone) from exc
            # committed: the claim and the commit are shared, each event bears its share
            shared = (time.perf_counter() - started - sum(spent)) / len(work)
            counts: dict[tuple[str, str], int] = {}
            for w, outcome, seconds in zip(work, outcomes, spent, strict=True):
                self._latency(w.event.type).observe(seconds + shared)
                counts[w.event.type, outcome] = counts.get((w.event.type, outcome), 0) + 1
            for (type_, outcome), n in counts.items():
                self._consumed(type_, outcome).inc(n)
            return

    # --- one event at a time --------------------------------------------------------------------

    async def _process(self, record: ConsumerRecord[Any, Any], dlq: Any) -> None:
        work = await self._parse(record, dlq)
        if work is not None:
            await self._process_one(work, dlq)

    async def _process_one(self, work: _Work, dlq: Any, *, failed: Exception | None = None) -> None:
        """Claim and apply one event in its own transaction. ``failed``: the error of its try
        in a batch, counted as the first attempt."""
        event = work.event
        _enter(event)
        attempt = 0
        if failed is not None:
            attempt = 1
            if await self._gave_up(work, dlq, failed, attempt):
                return
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = await self._apply(work.handler, event)
                self._latency(event.type).observe(time.perf_counter() - started)
                self._consumed(event.type, outcome).inc()
                return
            except Exception as exc:  # noqa: BLE001 - classified below
                if is_transient(exc):
                    delay = min(self._backoff * 2 ** min(attempt, 5), 5.0)
                    log.warning("%s: transient error, retrying in %.1fs: %s", self.name, delay, exc)
                    self._consumed(event.type, "retried").inc()
                    await asyncio.sleep(delay)
                    continue
                if await self._gave_up(work, dlq, exc, attempt):
                    return

    async def _gave_up(self, work: _Work, dlq: Any, exc: Exception, attempt: int) -> bool:
        """After a failed attempt: dead-letter (True) or pause before the next attempt."""
        event = work.event
        if isinstance(exc, PermanentError | ValidationError) or attempt >= self._max_attempts:
            log.error("%s: giving up on event after %d attempts: %s", self.name, attempt, exc)
            await self._dead_letter(work.record, dlq, exc, attempts=attempt, event_type=event.type)
            return True
        self._consumed(event.type, "retried").inc()
        await asyncio.sleep(self._backoff * attempt)
        return False

    async def _apply(self, handler: EventHandler, event: CloudEvent) -> str:
        if rejected_event(event.id):
            raise PermanentError(f"fault injection: event {event.id} rejected")
        async with self._session_factory() as session, session.begin():
            if not await claim(session, event_id=event.id, consumer=self.name, type=event.type):
                return "duplicate"
            await handler(session, event)
        return "applied"

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        dlq: Any,
        exc: BaseException,
        *,
        attempts: int,
        event_type: str,
    ) -> None:
        own = [
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_error", str(exc)[:2000].encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        headers, value = [*(record.headers or ()), *own], record.value
        topic = record.topic + DLQ_SUFFIX
        delay = 0.5
        while True:  # never move on before the dead letter is safely stored
            try:
                await dlq.send_and_wait(topic, value=value, key=record.key, headers=headers)
                break
            except KafkaError as err:
                shrinkable = value is not None or len(headers) > len(own)
                if isinstance(err, MessageSizeTooLargeError) and shrinkable:
                    # The record fits its topic but not with our headers: keep the error and
                    # the way back to the original (dlq_original_*), drop its payload, then
                    # its headers; the same send would fail forever.
                    log.error("%s: dead letter too large, dropping its payload: %s", self.name, err)
                    if value is not None:
                        own.append(("dlq_value_omitted", str(len(value)).encode()))
                        headers, value = [*(record.headers or ()), *own], None
                    else:
                        headers = own
                    continue
                log.warning("%s: DLQ publish failed, retrying: %s", self.name, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        DLQ_MESSAGES.labels(self._service, topic).inc()
        self._consumed(event_type, "dead_lettered").inc()
