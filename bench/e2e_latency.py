"""Benchmark 2 — end to end: gift POSTed at the donation service → entry in the public feed,
at a fixed open-loop rate (default 200 gifts/s): p50 / p99 of (feed entry published_at −
client send time). Both clocks are this machine's.

    .local/venv/bin/python -m bench.e2e_latency [--rate 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.common import (
    KAFKA,
    PG_PORT,
    env_for,
    fresh_database,
    keys,
    percentile,
    start_service,
    stop,
    wait_ready,
)
from bench.http_load import Connection
from donation.config import DonationSettings
from donation.main import MIGRATIONS as DONATION_MIGRATIONS
from notification.config import NotificationSettings
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from shared.contracts.donation import DONATION_RECEIVED
from shared.messaging.topics import all_topics, ensure_topics

PREFIX = "bench2."


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    key_dir = keys()
    common: dict[str, Any] = {
        "db_port": PG_PORT,
        "topic_prefix": PREFIX,
        "jwt_public_key_file": key_dir / "jwt_public.pem",
        "log_level": "WARNING",
        "relay_poll_interval_s": 1.0,
    }
    donation = DonationSettings(db_name="donation_bench2", port=19011, **common)
    notification = NotificationSettings(db_name="notification_bench2", port=19013, **common)
    await fresh_database(donation, DONATION_MIGRATIONS)
    await fresh_database(notification, NOTIFICATION_MIGRATIONS)
    await ensure_topics(KAFKA, all_topics(PREFIX))
    d = start_service(
        "donation",
        env_for("DONATION_", db_name=donation.db_name, port=donation.port, **common)
        | env_for("DONATION_", jwt_private_key_file=key_dir / "jwt_private.pem"),
    )
    n = start_service(
        "notification",
        env_for("NOTIFICATION_", db_name=notification.db_name, port=notification.port, **common),
    )
    sent: dict[str, float] = {}
    acked: list[float] = []  # POST answered (ms after its scheduled send)
    try:
        wait_ready("http://127.0.0.1:19011", d)
        wait_ready("http://127.0.0.1:19013", n)
        token = httpx.post(
            "http://127.0.0.1:19011/api/v1/auth/token",
            data={"username": "finance", "password": "sunshine-demo"},
        ).json()["access_token"]
        pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(64):  # lean keep-alive connections (see bench/http_load.py)
            pool.put_nowait(Connection("127.0.0.1", 19011, {"Authorization": f"Bearer {token}"}))

        async def one(i: int) -> None:
            at = time.time()
            connection = await pool.get()
            try:
                reply = await connection.request(
                    "POST",
                    "/api/v1/donations",
                    {"amount_fen": 100 + i, "channel": "alipay", "donor": {"name": "李四"}},
                )
            finally:
                pool.put_nowait(connection)
            if reply.status != 201:
                raise RuntimeError(reply.body[:300])
            sent[reply.json()["id"]] = at
            acked.append((time.time() - at) * 1000)

        total = int(args.rate * args.seconds)
        tasks = []
        started = time.perf_counter()
        for i in range(total):  # open loop: fire on schedule, whatever the responses do
            delay = started + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        achieved = total / (time.perf_counter() - started)
        while not pool.empty():
            await pool.get_nowait().close()
        conn = await asyncpg.connect(notification.asyncpg_dsn)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = await conn.fetch(  # not the projects' entries: only gifts count
                    "SELECT subject_id, published_at FROM feed_entries "
                    "WHERE kind = 'donation.received'"
                )
                if len(rows) >= len(sent):
                    break
                await asyncio.sleep(0.5)
        finally:
            await conn.close()
        conn = await asyncpg.connect(donation.asyncpg_dsn)
        try:
            outbox = await conn.fetch(
                "SELECT subject, time, published_at FROM outbox "
                "WHERE type = $1 AND published_at IS NOT NULL",
                DONATION_RECEIVED,
            )
        finally:
            await conn.close()
    finally:
        stop(d)
        stop(n)
    latencies = [
        (
            row["published_at"].astimezone(UTC)
            - datetime.fromtimestamp(sent[row["subject_id"]], UTC)
        ).total_seconds()
        * 1000
        for row in rows
        if row["subject_id"] in sent
    ]
    print(
        "end to end (gift POST → public feed entry), "
        f"offered {args.rate:.0f}/s for {args.seconds:.0f}s"
    )
    print(f"  achieved {achieved:.1f} gifts/s; {len(latencies)}/{len(sent)} entries seen")
    print(
        f"  p50 {percentile(latencies, 50):.1f} ms  p99 {percentile(latencies, 99):.1f} ms  "
        f"max {max(latencies):.1f} ms   (target p99 < 250 ms)"
    )
    print(
        f"  of which the POST itself: p50 {percentile(acked, 50):.1f} ms  "
        f"p99 {percentile(acked, 99):.1f} ms"
    )
    print_stages(outbox, {str(row["subject_id"]): row["published_at"] for row in rows})


def print_stages(outbox: list[asyncpg.Record], feed_at: dict[str, datetime]) -> None:
    """Where the time after the POST goes: the relay (event staged → broker acknowledged and
    row marked) and the consumer (marked → entry committed in the feed)."""
    relay = [(r["published_at"] - r["time"]).total_seconds() * 1000 for r in outbox]
    consume = [
        (feed_at[r["subject"]] - r["published_at"]).total_seconds() * 1000
        for r in outbox
        if r["subject"] in feed_at
    ]
    if relay and consume:
        print(
            f"  relay (staged → marked published): p50 {percentile(relay, 50):.1f} ms  "
            f"p99 {percentile(relay, 99):.1f} ms"
        )
        print(
            f"  consumer (marked → feed entry): p50 {percentile(consume, 50):.1f} ms  "
            f"p99 {percentile(consume, 99):.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
