"""Idempotent consumer runner.

Per record: parse the CloudEvent; in one transaction claim it in the inbox (a hit means it
was applied before: skip) and apply the handler; commit; then commit the Kafka offset.
Handler errors are retried a bounded number of times, then the record goes to
``<topic>.dlq`` with error headers and the partition moves on. Infrastructure errors (the
database unreachable) are retried without bound, so an outage never dead-letters good events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.faults import failpoint, rejected_event
from shared.logging import event_id_var, trace_id_var
from shared.messaging.envelope import CloudEvent, MalformedEvent, from_kafka
from shared.messaging.inbox import claim
from shared.messaging.relay import create_producer
from shared.messaging.tracing import parse_trace_id
from shared.metrics import CONSUMER_LAG, DLQ_MESSAGES, EVENTS_CONSUMED, HANDLER_LATENCY

log = logging.getLogger("sunshine.consumer")

EventHandler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
DLQ_SUFFIX = ".dlq"
LAG_REPORT_INTERVAL_S = 5.0


class PermanentError(Exception):
    """Raised by a handler for an event that can never be applied: dead-lettered at once."""


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
        max_records: int = 200,
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
        self.connected = False

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
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                for tp, records in batches.items():
                    for record in records:
                        await self._process(record, dlq)
                    failpoint("consumer.after_db_commit")  # effects committed, offset not yet
                    await self._commit(consumer, tp, records[-1].offset + 1)
                if time.monotonic() - lag_reported_at > LAG_REPORT_INTERVAL_S:
                    await self._report_lag(consumer)
                    lag_reported_at = time.monotonic()
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await dlq.stop()

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:
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

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, KafkaError) as exc:
            # The partition was reassigned: whoever owns it now re-reads these records,
            # and the inbox turns them into no-ops.
            log.warning("%s: offset commit failed for %s: %s", self.name, tp, exc)

    async def _process(self, record: ConsumerRecord[Any, Any], dlq: Any) -> None:
        try:
            event = from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            await self._dead_letter(record, dlq, exc, attempts=1, event_type="malformed")
            return
        event_id_var.set(event.id)
        trace_id_var.set(parse_trace_id(event.traceparent))
        handler = self._handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self._service, self.name, event.type, "ignored").inc()
            return
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = await self._apply(handler, event)
                HANDLER_LATENCY.labels(self._service, self.name, event.type).observe(
                    time.perf_counter() - started
                )
                EVENTS_CONSUMED.labels(self._service, self.name, event.type, outcome).inc()
                return
            except Exception as exc:  # noqa: BLE001 - classified below
                if is_transient(exc):
                    delay = min(self._backoff * 2 ** min(attempt, 5), 5.0)
                    log.warning("%s: transient error, retrying in %.1fs: %s", self.name, delay, exc)
                    EVENTS_CONSUMED.labels(self._service, self.name, event.type, "retried").inc()
                    await asyncio.sleep(delay)
                    continue
                permanent = isinstance(exc, PermanentError | ValidationError)
                if permanent or attempt >= self._max_attempts:
                    log.error(
                        "%s: giving up on event after %d attempts: %s", self.name, attempt, exc
                    )
                    await self._dead_letter(
                        record, dlq, exc, attempts=attempt, event_type=event.type
                    )
                    return
                EVENTS_CONSUMED.labels(self._service, self.name, event.type, "retried").inc()
                await asyncio.sleep(self._backoff * attempt)

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
        headers = [
            *(record.headers or ()),
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_error", str(exc)[:2000].encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        topic = record.topic + DLQ_SUFFIX
        delay = 0.5
        while True:  # never move on before the dead letter is safely stored
            try:
                await dlq.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
                break
            except KafkaError as err:
                log.warning("%s: DLQ publish failed, retrying: %s", self.name, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        DLQ_MESSAGES.labels(self._service, topic).inc()
        EVENTS_CONSUMED.labels(self._service, self.name, event_type, "dead_lettered").inc()
