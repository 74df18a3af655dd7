"""Rebuild the public feed and its log from the topics, from offset zero.

    python -m notification.rebuild [--db-name NAME] [--truncate] [--group NAME] [--compare URL]

Replays ``donation.events`` and ``warehouse.events`` with a new consumer group into a
database whose feed tables are empty (a fresh database at the head migration, or
``--truncate`` to empty them), waits until the group has consumed every record that was on
the topics when it started, then sequences every entry (same order rule as the live log:
event time, then event id) and signs a head. Prints the tree size, root hash and the SHA-256
of the canonical summary; ``--compare URL`` checks them against a running service's signed
head of the same size. Entry content never depends on when it is projected, so the hashes
are identical to the live log's (docs/decisions/004-transparency-log.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from notification.config import NotificationSettings
from notification.log import store
from notification.log.jcs import canonicalize
from notification.service_layer.feed_runtime import signer_for
from notification.service_layer.projections import FEED_HANDLERS
from notification.service_layer.summary import build_summary
from shared.db import create_engine, create_session_factory
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.topics import DONATION_EVENTS, WAREHOUSE_EVENTS

FEED_TABLES = (
    "feed_tree_heads",
    "feed_log_nodes",
    "feed_log_leaves",
    "feed_item_categories",
    "feed_entries",
)


@dataclass(frozen=True)
class RebuildResult:
    tree_size: int
    root_hash: str
    summary_sha256: str
    events_seen: int

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "summary_sha256": self.summary_sha256,
            "events_seen": self.events_seen,
        }


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(await _partitions(consumer, topic))
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} not found")


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: int(meta.offset) for tp, meta in offsets.items()}


async def rebuild(
    settings: NotificationSettings,
    *,
    group: str | None = None,
    truncate: bool = False,
    timeout_s: float = 600,
) -> RebuildResult:
    group = group or f"{settings.topic_prefix}notification.feed.rebuild-{int(time.time())}"
    engine = create_engine(settings, application_name="notification-rebuild")
    session_factory = create_session_factory(engine)
    try:
        async with session_factory() as session, session.begin():
            if truncate:
                await session.execute(text("TRUNCATE " + ", ".join(FEED_TABLES)))
            elif await session.scalar(text("SELECT count(*) FROM feed_entries")):
                raise RuntimeError("the feed is not empty: use a fresh database or --truncate")
        topics = [settings.topic(DONATION_EVENTS), settings.topic(WAREHOUSE_EVENTS)]
        targets = {
            tp: end
            for tp, end in (await end_offsets(settings.kafka_bootstrap, topics)).items()
            if end > 0
        }
        runner = ConsumerRunner(
            name=group,
            service=settings.service_name,
            topics=topics,
            handlers=FEED_HANDLERS,
            session_factory=session_factory,
            bootstrap=settings.kafka_bootstrap,
            max_attempts=settings.consumer_max_attempts,
        )
        task = asyncio.create_task(runner.run(), name="feed-rebuild")
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                if task.done():
                    task.result()
                    raise RuntimeError("rebuild consumer stopped")
                done = await committed(settings.kafka_bootstrap, group)
                if all(done.get(tp, -1) >= end for tp, end in targets.items()):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("rebuild did not catch up in time")
                await asyncio.sleep(0.3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        signer = signer_for(settings)
        async with session_factory() as session, session.begin():
            while await store.sequence_pending(session, settle_s=0):
                pass
            head = await store.checkpoint(session, signer, settle_s=0)
        summary = await build_summary(session_factory)
        return RebuildResult(
            tree_size=head.tree_size,
            root_hash=base64.b64encode(head.root_hash).decode(),
            summary_sha256=hashlib.sha256(canonicalize(summary)).hexdigest(),
            events_seen=sum(targets.values()),
        )
    finally:
        await engine.dispose()


def compare_with_live(url: str, result: RebuildResult) -> str | None:
    """Check the rebuilt root against a running service's signed log (via a consistency
    proof from the rebuilt size to the live head); returns a problem or ``None``."""
    import httpx

    from notification.log.merkle import ProofError, verify_consistency

    base = url.rstrip("/") + "/api/v1/public"
    head = httpx.get(base + "/tree-head", timeout=30).json()
    if head["tree_size"] < result.tree_size:
        return f"live log has {head['tree_size']} entries, rebuilt {result.tree_size}"
    path: list[str] = []
    if 0 < result.tree_size < head["tree_size"]:
        path = httpx.get(
            base + "/proofs/consistency",
            params={"first": result.tree_size, "second": head["tree_size"]},
            timeout=30,
        ).json()["consistency_path"]
    try:
        verify_consistency(
            result.tree_size,
            head["tree_size"],
            base64.b64decode(result.root_hash),
            base64.b64decode(head["root_hash"]),
            [base64.b64decode(p) for p in path],
        )
    except ProofError as exc:
        return f"rebuilt root differs from the live log's: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notification.rebuild")
    parser.add_argument("--db-name", help="target database (default: the service's)")
    parser.add_argument("--truncate", action="store_true", help="empty the feed tables first")
    parser.add_argument("--group", help="consumer group (default: a new one)")
    parser.add_argument("--compare", metavar="URL", help="a running notification service")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"db_name": args.db_name} if args.db_name else {}
    settings = NotificationSettings(**overrides)
    result = asyncio.run(rebuild(settings, group=args.group, truncate=args.truncate))
    print(json.dumps(result.to_json(), indent=2))
    if args.compare:
        problem = compare_with_live(args.compare, result)
        if problem:
            print(f"MISMATCH: {problem}", file=sys.stderr)
            return 1
        print(f"identical to the live log's first {result.tree_size} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
