"""The Kafka topics of the system, and a command that creates them (idempotently).

``python -m shared.messaging.topics [--prefix P] [--bootstrap HOST:PORT]``
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

BASE_TOPICS = (DONATION_EVENTS, DONATION_PRIVATE, WAREHOUSE_EVENTS)
PARTITIONS = 6


def all_topics(prefix: str = "") -> list[str]:
    names = []
    for base in BASE_TOPICS:
        names += [prefix + base, prefix + base + ".dlq"]
    return names


async def ensure_topics(
    bootstrap: str, names: list[str], *, partitions: int = PARTITIONS, timeout_s: float = 60
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
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
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
    args = parser.parse_args()
    names = all_topics(args.prefix)
    asyncio.run(ensure_topics(args.bootstrap, names))
    print("topics ready:", " ".join(names))


if __name__ == "__main__":
    main()
