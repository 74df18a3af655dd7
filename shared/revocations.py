"""Every service follows the access revocations (``AccessRevokedV1`` on ``staff.events``).

The donation service publishes one through its outbox when an account is disabled, its
password is reset or changed, or its roles or organisation change: tokens of that user issued
before ``not_before`` are refused from then on (:meth:`shared.auth.TokenVerifier.revoke`).

Each instance of each service reads the whole compacted topic itself — a consumer *without* a
group, every partition assigned, from the beginning — into its verifier's revocation map, and
then follows it. Without a group no instance shares the work with another (each needs every
record) and nothing is committed: the map lives in memory and is rebuilt at every start.

- Readiness (``/readyz`` check ``revocations``): not ready until the listener has read up to
  the end offsets it saw when it first connected, so a fresh instance does not serve tokens
  that were revoked before it started.
- A broker outage: the Kafka client reconnects by itself while it runs; if it fails (or the
  broker is down at start) the listener starts a new client after a pause and goes on from the
  offsets it had reached. The map it already holds stays in force meanwhile; revocations
  published during the outage arrive when the broker is back. Tokens expire within their
  lifetime at the latest (docs/decisions/010-token-revocation.md).
- A record that is not an ``AccessRevokedV1`` is skipped (organisations travel on the same
  topic); a malformed one is logged and counted (``outcome="malformed"``), never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from shared.aio import stop_if_cancelled, within
from shared.auth import TokenVerifier
from shared.contracts.staff import ACCESS_REVOKED, AccessRevokedV1
from shared.messaging.envelope import MalformedEvent, from_kafka
from shared.metrics import EVENTS_CONSUMED

log = logging.getLogger("sunshine.revocations")

NAME = "revocations"
POLL_TIMEOUT_MS = 500
STOP_TIMEOUT_S = 10.0
MAX_PAUSE_S = 5.0
ASSIGNMENT_WARN_S = 30.0  # no partition after this long: the topic is probably missing


def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    # group_id=None: no group, no commits; a subscription without a group is assigned every
    # partition of the topic (and follows partitions added later)
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=POLL_TIMEOUT_MS,
    )


class RevocationListener:
    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        verifier: TokenVerifier,
        service: str,
        consumer_factory: Callable[[str, str], Any] = _consumer,
        pause_s: float = 0.5,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._verifier = verifier
        self._service = service
        self._factory = consumer_factory
        self._pause_s = pause_s
        self._positions: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self._targets: dict[TopicPartition, int] | None = None  # end offsets at first connect
        self.caught_up = False
        self.applied = 0

    async def ready(self) -> bool:
        """The readiness check: the revocations published before the start are all known."""
        return self.caught_up

    async def run(self) -> None:
        """Follow the topic until cancelled; reconnect after any Kafka failure."""
        pause = self._pause_s
        while True:
            stop_if_cancelled()
            consumer = self._factory(self._bootstrap, self._topic)
            try:
                await consumer.start()
                pause = self._pause_s
                await self._follow(consumer)
            except (KafkaError, OSError) as exc:
                log.warning(
                    "revocation listener: Kafka not reachable (%s); reconnecting in %.1fs",
                    exc,
                    pause,
                )
            finally:
                with contextlib.suppress(Exception):
                    await within(consumer.stop(), STOP_TIMEOUT_S)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    async def _follow(self, consumer: Any) -> None:
        partitions = await self._wait_for_assignment(consumer)
        fresh = [tp for tp in partitions if tp not in self._positions]
        for tp in partitions:
            if tp in self._positions:  # a reconnect: go on where the last client stopped
                consumer.seek(tp, self._positions[tp])
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        if self._targets is None:
            self._targets = dict(await consumer.end_offsets(partitions))
            log.info(
                "revocation listener: reading %s up to %s",
                self._topic,
                {tp.partition: offset for tp, offset in self._targets.items()},
            )
        while True:
            stop_if_cancelled()
            batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
            for tp, records in batches.items():
                for record in records:
                    self._apply(record)
                self._positions[tp] = records[-1].offset + 1
            if not self.caught_up:
                await self._check_caught_up(consumer)

    async def _wait_for_assignment(self, consumer: Any) -> list[TopicPartition]:
        waited = 0.0
        while True:
            stop_if_cancelled()
            partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
            if partitions:
                return partitions
            # no records can come before an assignment; this only waits for the metadata
            await consumer.getmany(timeout_ms=100)
            waited += 0.1
            if waited >= ASSIGNMENT_WARN_S:
                log.warning("revocation listener: no partition of %s (missing?)", self._topic)
                waited = 0.0

    async def _check_caught_up(self, consumer: Any) -> None:
        assert self._targets is not None
        for tp, end in self._targets.items():
            # the client's position, not the last record's: a partition that is empty or
            # ends in compacted-away offsets is read to its end without a record to show
            if await consumer.position(tp) < end:
                return
        self.caught_up = True
        log.info("revocation listener: caught up (%d revocations known)", self.applied)

    def _apply(self, record: ConsumerRecord[Any, Any]) -> None:
        if record.value is None:  # a tombstone: nothing to apply
            return
        try:
            event = from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            self._count("malformed", "malformed")
            log.warning(
                "revocation listener: malformed record %s/%d@%d skipped: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return
        if event.type != ACCESS_REVOKED:
            self._count(event.type, "ignored")
            return
        try:
            revoked = AccessRevokedV1.model_validate(event.data)
        except ValidationError as exc:
            self._count(event.type, "malformed")
            log.warning(
                "revocation listener: invalid %s (event %s) skipped: %s",
                event.type,
                event.id,
                str(exc)[:300],
            )
            return
        self._verifier.revoke(revoked.username, revoked.not_before)
        self.applied += 1
        self._count(event.type, "applied")
        (log.info if self.caught_up else log.debug)(
            "access revoked",
            extra={"username": revoked.username, "not_before": revoked.not_before.isoformat()},
        )

    def _count(self, event_type: str, outcome: str) -> None:
        EVENTS_CONSUMED.labels(self._service, NAME, event_type, outcome).inc()
