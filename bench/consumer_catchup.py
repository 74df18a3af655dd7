"""Benchmark 3 — consumer catch-up: preload N donation.received events, then measure the
notification service's feed consumer (inbox + projection + offset commits, real PostgreSQL)
against a bare aiokafka consumer reading the same topic in the same run.

Besides the two rates and their ratio it prints where each phase's wall time went: this
process on CPU, runnable but waiting for a CPU (a busy machine), and the CPU of the
consumer's PostgreSQL backends, each also per event.

    .local/venv/bin/python -m bench.consumer_catchup [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import KAFKA, PG_PORT, fresh_database, keys
from notification.config import NotificationSettings
from notification.main import MIGRATIONS
from notification.service_layer.projections import FEED_HANDLERS
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


def runqueue_wait_s() -> float:
    """Time this thread spent runnable but not running (the machine busy elsewhere)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (a PostgreSQL backend on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Usage:
    """Where the wall time of a phase went: this process on CPU, waiting for a CPU."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.waited = runqueue_wait_s()

    def done(self) -> tuple[float, float, float]:
        return (
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
            runqueue_wait_s() - self.waited,
        )


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
    usage = Usage()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            seen += sum(len(v) for v in batch.values())
    finally:
        elapsed, cpu, waited = usage.done()
        await consumer.stop()
    print(
        f"  bare read: {elapsed:.1f}s wall, {cpu:.1f}s on CPU "
        f"({cpu / count * 1e6:.0f} us/event), {waited:.1f}s waiting for a CPU"
    )
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
    usage = Usage()
    task = asyncio.create_task(runner.run())
    try:
        while await conn.fetchval("SELECT count(*) FROM inbox") < count:
            await asyncio.sleep(0.2)
        elapsed, cpu, waited = usage.done()
        backends = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-consumer'"
        )
        pg_cpu = sum(cpu_of(r["pid"]) for r in backends)
        print(
            f"  feed consumer: {elapsed:.1f}s wall, {cpu:.1f}s on CPU "
            f"({cpu / count * 1e6:.0f} us/event), {waited:.1f}s waiting for a CPU; "
            f"PostgreSQL backends {pg_cpu:.1f}s on CPU ({pg_cpu / count * 1e6:.0f} us/event)"
        )
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
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"consumer catch-up over {args.events} events (6 partitions); load average {load}")
    print(f"  bare aiokafka consumer   {bare_rate:9.0f} events/s (read only)")
    print(f"  notification feed        {service_rate:9.0f} events/s (inbox + projection + commits)")
    print(f"  ratio                    {service_rate / bare_rate:9.2f}   (target >= 0.5)")


if __name__ == "__main__":
    asyncio.run(main())
