"""Benchmark 3 — consumer catch-up: preload N donation.received events, then measure the
notification service's feed consumer (inbox + projection + offset commits, real PostgreSQL)
against a bare aiokafka consumer reading the same topic in the same run.

    .local/venv/bin/python -m bench.consumer_catchup [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import KAFKA, PG_PORT, fresh_database, keys
from notification.config import NotificationSettings
from notification.entrypoints.consumers import FEED_HANDLERS
from notification.main import MIGRATIONS
from shared.contracts.donation import DONATION_RECEIVED, DonationReceivedV1
from shared.db import create_engine, create_session_factory
from shared.ids import new_tracking_code, uuid7
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.envelope import CloudEvent
from shared.messaging.topics import ensure_topics


async def preload(topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = []
        now = datetime.now(UTC)
        for i in range(count):
            donation_id = uuid7()
            payload = DonationReceivedV1(
                donation_id=donation_id,
                tracking_code=new_tracking_code(),
                kind="money",
                amount_fen=100 + i,
                channel="wechat_pay",
                display="anonymous",
                display_name="爱心人士",
                donor_type="individual",
                received_at=now,
            )
            event = CloudEvent(
                id=str(uuid7()),
                type=DONATION_RECEIVED,
                source="/bench",
                time=now,
                data=payload.model_dump(mode="json"),
                subject=str(donation_id),
            )
            futures.append(
                await producer.send(
                    topic, event.value(), key=str(donation_id).encode(), headers=event.headers()
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def bare(topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        group_id=f"bare-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            seen += sum(len(v) for v in batch.values())
    finally:
        elapsed = time.perf_counter() - started
        await consumer.stop()
    return count / elapsed


async def service(topic: str, count: int, settings: NotificationSettings) -> float:
    engine = create_engine(settings, application_name="bench-consumer")
    runner = ConsumerRunner(
        name=f"bench-feed-{uuid.uuid4()}",
        service="notification",
        topics=[topic],
        handlers=FEED_HANDLERS,
        session_factory=create_session_factory(engine),
        bootstrap=KAFKA,
    )
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        while await conn.fetchval("SELECT count(*) FROM inbox") < count:
            await asyncio.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()
        await engine.dispose()
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    key_dir = keys()
    settings = NotificationSettings(
        db_name="notification_bench3",
        db_port=PG_PORT,
        jwt_public_key_file=key_dir / "jwt_public.pem",
    )
    await fresh_database(settings, MIGRATIONS)
    topic = f"bench3.{uuid.uuid4().hex[:8]}.donation.events"
    await ensure_topics(KAFKA, [topic, topic + ".dlq"])
    started = time.perf_counter()
    await preload(topic, args.events)
    print(f"preloaded {args.events} events in {time.perf_counter() - started:.1f}s")
    bare_rate = await bare(topic, args.events)
    service_rate = await service(topic, args.events, settings)
    print(f"consumer catch-up over {args.events} events (6 partitions)")
    print(f"  bare aiokafka consumer   {bare_rate:9.0f} events/s (read only)")
    print(f"  notification feed        {service_rate:9.0f} events/s (inbox + projection + commits)")
    print(f"  ratio                    {service_rate / bare_rate:9.2f}   (target >= 0.5)")


if __name__ == "__main__":
    asyncio.run(main())
