"""The Kafka topics of the system, and a command that creates them (idempotently).

``python -m shared.messaging.topics [--prefix P] [--bootstrap HOST:PORT] [--partitions N]
[--replication-factor 3] [--min-insync-replicas 2]``

``donation.private`` (contact details for notices) and its DLQ keep messages for
``PRIVATE_RETENTION_MS`` only, so personal data does not outlive its use in the broker's log.
``staff.events`` (organisations, access revocations) is compacted: the latest record per key
(an organisation's code, a user name) is kept for good, so a service reads the whole state
from the beginning at start (``shared.revocations``); its DLQ is an ordinary topic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

DONATION_EVENTS = "donation.events"
DONATION_PRIVATE = "donation.private"  # contact details for notice delivery only
WAREHOUSE_EVENTS = "warehouse.events"
STAFF_EVENTS = "staff.events"  # organisations and access revocations, compacted per key

BASE_TOPICS = (DONATION_EVENTS, DONATION_PRIVATE, WAREHOUSE_EVENTS, STAFF_EVENTS)
COMPACTED = (STAFF_EVENTS,)
PARTITIONS = 6
PRIVATE_RETENTION_MS = 3 * 24 * 3600 * 1000  # 3 days: notices retry for hours, DLQ replay in days


def topic_config(
    name: str, *, replication_factor: int, min_insync_replicas: int | None
) -> dict[str, str]:
    """Per-topic settings: short retention for personal data, compaction for the staff state
    (not for its DLQ: dead letters are records to look at, not state); min ISR on a
    replicated cluster."""
    config: dict[str, str] = {}
    if name.removesuffix(".dlq").endswith(DONATION_PRIVATE):
        config["retention.ms"] = str(PRIVATE_RETENTION_MS)
    if name.endswith(COMPACTED):
        config["cleanup.policy"] = "compact"
    if replication_factor > 1:
        config["min.insync.replicas"] = str(min_insync_replicas or replication_factor - 1)
    return config


def all_topics(prefix: str = "") -> list[str]:
    names = []
    for base in BASE_TOPICS:
        names += [prefix + base, prefix + base + ".dlq"]
    return names


async def ensure_topics(
    bootstrap: str,
    names: list[str],
    *,
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    timeout_s: float = 60,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            n,
                            num_partitions=partitions,
                            replication_factor=replication_factor,
                            topic_configs=topic_config(
                                n,
                                replication_factor=replication_factor,
                                min_insync_replicas=min_insync_replicas,
                            ),
                        )
                        for n in missing
                    ]
                )
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create Sunshine's Kafka topics")
    parser.add_argument("--prefix", default=os.environ.get("SUNSHINE_TOPIC_PREFIX", ""))
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=int(os.environ.get("SUNSHINE_TOPIC_REPLICATION", "1")),
        help="3 on a three-broker cluster",
    )
    parser.add_argument(
        "--min-insync-replicas",
        type=int,
        default=None,
        help="default: replication factor - 1 (2 with three replicas)",
    )
    args = parser.parse_args()
    names = all_topics(args.prefix)
    asyncio.run(
        ensure_topics(
            args.bootstrap,
            names,
            partitions=args.partitions,
            replication_factor=args.replication_factor,
            min_insync_replicas=args.min_insync_replicas,
        )
    )
    print("topics ready:", " ".join(names))


if __name__ == "__main__":
    main()
