"""Which dead letters have been handled: one marker per dead letter, on a compacted topic.

The replay (``shared.messaging.replay``) records every dead letter it re-injects (or that the
operator resolved by hand) on ``<topic>.dlq.replayed``: key ``<partition>:<offset>`` of the dead
letter on the DLQ, value a small JSON object (the dead letter's timestamp and ``ce_id``, the
outcome, when). The topic is compacted, so it keeps the latest marker per dead letter; the
replay writes a tombstone for a marker once the DLQ's retention has removed its dead letter.
A marker counts only for the record it was written for: same timestamp and ``ce_id`` (a DLQ
deleted and created again starts at offset 0 again, its new dead letters are not "replayed").

Markers hold identifiers and positions only, never an event's data.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

MARKER_SUFFIX = ".replayed"
REPLAYED = "replayed"
RESOLVED = "resolved"  # handled by the operator, not re-injected
LOAD_TIMEOUT_S = 30.0

Position = tuple[int, int]  # (DLQ partition, DLQ offset)


def marker_topic(dlq_topic: str) -> str:
    return dlq_topic + MARKER_SUFFIX


def _ce_id(record: ConsumerRecord[Any, Any]) -> str | None:
    for key, value in record.headers or ():
        if key == "ce_id":
            return value.decode(errors="replace") if value is not None else None
    return None


@dataclass(frozen=True)
class Marker:
    dlq_timestamp: int
    dlq_ce_id: str | None
    event_id: str
    outcome: str
    at: str

    def matches(self, record: ConsumerRecord[Any, Any]) -> bool:
        return self.dlq_timestamp == record.timestamp and self.dlq_ce_id == _ce_id(record)


def _parse(value: bytes) -> Marker | None:
    try:
        data = json.loads(value)
        return Marker(
            dlq_timestamp=int(data["dlq_timestamp"]),
            dlq_ce_id=data.get("dlq_ce_id"),
            event_id=str(data["event_id"]),
            outcome=str(data["outcome"]),
            at=str(data.get("at", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None  # not ours: ignored, the dead letter counts as not handled


def _key(position: Position) -> bytes:
    return f"{position[0]}:{position[1]}".encode()


def _position(key: bytes | None) -> Position | None:
    try:
        partition, offset = (key or b"").decode().split(":")
        return int(partition), int(offset)
    except ValueError:
        return None


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> dict[int, int] | None:
    """The topic's partitions with their replica counts; None when the broker does not know
    the topic."""
    for described in await admin.describe_topics([topic]):
        if described["topic"] == topic and described["error_code"] == 0:
            return {p["partition"]: len(p["replicas"]) for p in described["partitions"]}
    return None


async def load(
    bootstrap: str, admin: AIOKafkaAdminClient, dlq_topic: str, *, timeout_s: float = LOAD_TIMEOUT_S
) -> dict[Position, Marker]:
    """Every marker of ``dlq_topic`` (none when the marker topic does not exist yet). Raises
    TimeoutError when the topic cannot be read to its end: without all of its markers the
    replay would re-inject dead letters a second time."""
    topic = marker_topic(dlq_topic)
    partitions = await topic_partitions(admin, topic)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    markers: dict[Position, Marker] = {}
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout_s:.0f}s")
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    position = _position(record.key)
                    if position is None:
                        continue
                    marker = _parse(record.value) if record.value is not None else None
                    if marker is None:
                        markers.pop(position, None)  # a tombstone
                    else:
                        markers[position] = marker
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return markers


async def ensure_topic(admin: AIOKafkaAdminClient, dlq_topic: str, *, replicas: int) -> None:
    """Create the marker topic (one partition, compacted) unless it exists, with as many
    replicas as the DLQ has."""
    topic = marker_topic(dlq_topic)
    if await topic_partitions(admin, topic):
        return
    config = {"cleanup.policy": "compact"}
    if replicas > 1:
        config["min.insync.replicas"] = str(replicas - 1)
    with contextlib.suppress(TopicAlreadyExistsError):  # another replay created it meanwhile
        await admin.create_topics(
            [NewTopic(topic, num_partitions=1, replication_factor=replicas, topic_configs=config)]
        )


async def put(
    producer: Any,
    dlq_topic: str,
    record: ConsumerRecord[Any, Any],
    *,
    event_id: str,
    outcome: str,
) -> Marker:
    """Record that the dead letter ``record`` was handled; returns once the broker has it."""
    marker = Marker(
        dlq_timestamp=record.timestamp,
        dlq_ce_id=_ce_id(record),
        event_id=event_id,
        outcome=outcome,
        at=datetime.now(UTC).isoformat(),
    )
    value = json.dumps(
        {
            "dlq_timestamp": marker.dlq_timestamp,
            "dlq_ce_id": marker.dlq_ce_id,
            "event_id": marker.event_id,
            "outcome": marker.outcome,
            "at": marker.at,
        }
    ).encode()
    await producer.send_and_wait(
        marker_topic(dlq_topic), value=value, key=_key((record.partition, record.offset))
    )
    return marker


async def prune(
    producer: Any,
    dlq_topic: str,
    markers: dict[Position, Marker],
    beginnings: dict[int, int],
) -> int:
    """Tombstones for the markers whose dead letter the DLQ no longer holds (retention passed,
    records deleted, partition gone); the number written."""
    stale = [
        position
        for position in markers
        if position[0] not in beginnings or position[1] < beginnings[position[0]]
    ]
    for position in stale:
        await producer.send_and_wait(marker_topic(dlq_topic), value=None, key=_key(position))
        del markers[position]
    return len(stale)
