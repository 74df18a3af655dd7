"""The outbox relay: publish committed outbox rows to Kafka, then mark them published.

Woken by ``LISTEN/NOTIFY`` for millisecond latency, with a polling fallback. Rows are claimed
with ``FOR UPDATE SKIP LOCKED`` so several relays can run side by side; a row is marked
published only after the broker acknowledged it (idempotent producer, ``acks=all``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.aio import stop_if_cancelled, wait_event
from shared.faults import failpoint
from shared.messaging.envelope import CloudEvent
from shared.messaging.tables import NOTIFY_CHANNEL
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED

log = logging.getLogger("sunshine.relay")
HOUSEKEEPING_INTERVAL_S = 5.0
MISSING_TOPIC_RECHECK_S = 30.0

_CLAIM = text(
    """
    SELECT id, topic, key, type, source, subject, time, payload, traceparent
    FROM outbox
    WHERE published_at IS NULL AND topic <> ALL(:missing)
    ORDER BY seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_MARK_PUBLISHED = text(
    "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL "
    "WHERE id = ANY(:ids)"
)
_MARK_FAILED = text(
    "UPDATE outbox SET attempts = attempts + 1, last_error = :error WHERE id = ANY(:ids)"
)
_BACKLOG = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
_PURGE = text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL "
    "AND published_at < now() - make_interval(days => :days)"
)


def create_producer(bootstrap: str, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "enable_idempotence": True,  # implies acks=all
        "acks": "all",
        "linger_ms": 2,
        "request_timeout_ms": 15000,
        "max_batch_size": 256 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def _event_from_row(row: Row[Any]) -> CloudEvent:
    return CloudEvent(
        id=str(row.id),
        type=row.type,
        source=row.source,
        time=row.time,
        data=row.payload,
        subject=row.subject,
        traceparent=row.traceparent,
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        dsn: str,
        bootstrap: str,
        service: str,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        retention_days: int = 7,
    ) -> None:
        self._engine = engine
        self._dsn = dsn
        self._bootstrap = bootstrap
        self._service = service
        self._batch_size = batch_size
        self._poll_interval = poll_interval_s
        self._retention_days = retention_days
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        # Topics found missing, and when: their rows are left out of claims for a while, so a
        # batch of rows nobody can publish never starves the rows behind it (all rows of one
        # topic wait together, so per-key order holds).
        self._missing: dict[str, float] = {}
        self.connected = False

    async def run(self) -> None:
        """Run until cancelled; survives Kafka and PostgreSQL outages."""
        listener = asyncio.create_task(self._listen_forever(), name=f"{self._service}-relay-listen")
        try:
            await self._start_producer()
            housekept_at = 0.0
            while True:
                stop_if_cancelled()
                # Cleared before the round, not after it: a commit that notifies while the
                # round runs must wake the next one (cleared afterwards, its row waited for
                # the next commit or the poll interval).
                self._wake.clear()
                try:
                    published = await self.publish_pending()
                except Exception as exc:  # noqa: BLE001 - the relay never dies; it backs off
                    log.warning("relay round failed: %s", exc)
                    published = 0
                    await asyncio.sleep(min(self._poll_interval * 2, 5))
                if published >= self._batch_size:
                    continue  # more is waiting: drain without sleeping
                # backlog gauge and purge on a clock, not per round: under load the relay
                # wakes for every commit and a count per few rounds showed in profiles
                if time.monotonic() - housekept_at >= HOUSEKEEPING_INTERVAL_S:
                    await self._housekeeping()
                    housekept_at = time.monotonic()
                await wait_event(self._wake, self._poll_interval)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
            if self._producer is not None:
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    async def _start_producer(self) -> None:
        delay = 0.5
        while True:
            producer = create_producer(self._bootstrap)
            try:
                await producer.start()
                self._producer = producer
                self.connected = True
                return
            except Exception as exc:  # noqa: BLE001 - broker not reachable yet
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("relay: Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def publish_pending(self) -> int:
        """Publish one batch. Returns how many rows were published."""
        if self._producer is None:
            await self._start_producer()
        producer = self._producer
        assert producer is not None
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    _CLAIM, {"limit": self._batch_size, "missing": self._missing_topics()}
                )
            ).all()
            if not rows:
                return 0
            ok, failed, error = await self._send(producer, rows)
            failpoint("relay.after_send")  # the broker has the events; the rows are not marked
            if ok:
                await conn.execute(_MARK_PUBLISHED, {"ids": ok})
            if failed:
                await conn.execute(_MARK_FAILED, {"ids": failed, "error": error[:2000]})
        for row in rows:
            if row.id in ok:
                OUTBOX_PUBLISHED.labels(self._service, row.type).inc()
        if failed:
            OUTBOX_PUBLISH_FAILURES.labels(self._service).inc(len(failed))
            log.warning("relay: %d events not acknowledged: %s", len(failed), error)
            self.connected = False
            await asyncio.sleep(min(self._poll_interval, 1.0))
        else:
            self.connected = True
        return len(ok)

    async def _topic_exists(self, producer: AIOKafkaProducer, topic: str) -> bool:
        """Known topics are cached; an unknown one triggers one metadata refresh.

        Without this, a row for a topic that does not exist would make ``send`` wait for
        metadata until its timeout on every round, stalling every row behind it.
        """
        if topic in self._known_topics:
            return True
        metadata = await producer.client.fetch_all_metadata()
        self._known_topics = set(metadata.topics())
        if topic not in self._known_topics:
            self._missing[topic] = time.monotonic()
            return False
        self._missing.pop(topic, None)
        return True

    def _missing_topics(self) -> list[str]:
        """Topics to leave out of this claim (rechecked after ``MISSING_TOPIC_RECHECK_S``)."""
        now = time.monotonic()
        for topic, since in list(self._missing.items()):
            if now - since >= MISSING_TOPIC_RECHECK_S:
                del self._missing[topic]
        return list(self._missing)

    async def _send(
        self, producer: AIOKafkaProducer, rows: Sequence[Row[Any]]
    ) -> tuple[list[Any], list[Any], str]:
        futures: list[asyncio.Future[Any] | BaseException] = []
        refreshed = False
        for row in rows:
            event = _event_from_row(row)
            if row.topic not in self._known_topics and refreshed:
                self._missing.setdefault(row.topic, time.monotonic())
                futures.append(LookupError(f"topic {row.topic!r} does not exist"))
                continue
            if not await self._topic_exists(producer, row.topic):
                refreshed = True
                futures.append(LookupError(f"topic {row.topic!r} does not exist"))
                continue
            try:
                futures.append(
                    await producer.send(
                        row.topic,
                        value=event.value(),
                        key=row.key.encode(),
                        headers=event.headers(),
                    )
                )
            except Exception as exc:  # noqa: BLE001 - recorded on the row
                futures.append(exc)
        ok: list[Any] = []
        failed: list[Any] = []
        error = ""
        for row, future in zip(rows, futures, strict=True):
            if isinstance(future, BaseException):
                failed.append(row.id)
                error = f"{type(future).__name__}: {future}"
                continue
            try:
                await future
                ok.append(row.id)
            except Exception as exc:  # noqa: BLE001 - recorded on the row
                failed.append(row.id)
                error = f"{type(exc).__name__}: {exc}"
        return ok, failed, error

    async def _housekeeping(self) -> None:
        try:
            async with self._engine.begin() as conn:
                backlog = (await conn.execute(_BACKLOG)).scalar_one()
                await conn.execute(_PURGE, {"days": self._retention_days})
            OUTBOX_BACKLOG.labels(self._service).set(backlog)
        except Exception as exc:  # noqa: BLE001 - metrics only
            log.debug("relay housekeeping failed: %s", exc)

    async def _listen_forever(self) -> None:
        """Keep a LISTEN connection; on loss, reconnect (polling covers the gap)."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())  # type: ignore[misc]
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # catch up on anything written while we were away
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - fall back to polling, retry
                log.debug("relay: LISTEN connection unavailable: %s", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(2)
