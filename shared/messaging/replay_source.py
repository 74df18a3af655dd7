"""Reading a dead letter's original record back from its source topic.

A dead letter stored without its payload (``dlq_value_omitted``) is replayed from the record
at ``dlq_original_topic/partition/offset``, read by a consumer of its own (no group, assign +
seek) and checked to be the one that was dead-lettered. See ``shared.messaging.replay``.
"""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

VALUE_OMITTED = "dlq_value_omitted"
SOURCE_FETCH_TIMEOUT_S = 10.0
# A source record may be as large as the broker allows (about 1 MiB); fetch it whole.
SOURCE_FETCH_BYTES = 8 * 1024 * 1024

Headers = list[tuple[str, Any]]


class SourceGone(Exception):
    """The original record of a dead letter is no longer in its source topic."""


class ReplayStopped(Exception):
    """A broker error while reading a source record; nothing after it was committed."""


def header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace") if value is not None else None
    return None


def int_header(headers: Headers, name: str) -> int | None:
    value = header(headers, name)
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


def check_same_record(dead: ConsumerRecord[Any, Any], original: ConsumerRecord[Any, Any]) -> None:
    """The record read back is the one that was dead-lettered, as far as the dead letter
    tells: the same key, ``ce_id`` and value length."""
    dead_headers = list(dead.headers or ())
    original_headers = list(original.headers or ())
    dead_id, original_id = header(dead_headers, "ce_id"), header(original_headers, "ce_id")
    if dead_id is not None and dead_id != original_id:
        raise SourceGone(f"the record at that offset is another event (ce_id {original_id})")
    if dead.key != original.key:
        raise SourceGone("the record at that offset has another key")
    size = int_header(dead_headers, VALUE_OMITTED)
    if size is not None and size != len(original.value or b""):
        raise SourceGone(
            f"the record at that offset has {len(original.value or b'')} bytes, "
            f"the dead-lettered one had {size}"
        )
