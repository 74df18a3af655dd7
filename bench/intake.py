"""Benchmark 1 — gift intake: POST /api/v1/donations rate and latency at fixed concurrency,
against the raw ceiling: a bare asyncpg script committing the same rows (donor, donation,
audit entry, outbox row + NOTIFY) at the same concurrency, in the same run.

    .local/venv/bin/python -m bench.intake [--requests 3000] [--concurrency 32]

Needs PostgreSQL and Kafka running (`scripts/infra.sh up`). Uses its own database
(donation_bench) and topic prefix (bench.).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.common import (
    KAFKA,
    PG_PORT,
    env_for,
    fresh_database,
    keys,
    rss_mb,
    start_service,
    stop,
    summary,
    wait_ready,
)
from bench.http_load import Connection
from donation.config import DonationSettings
from donation.main import MIGRATIONS
from shared.ids import new_tracking_code, uuid7
from shared.messaging.topics import all_topics, ensure_topics

PORT = 19001


def gift(n: int) -> dict[str, object]:
    return {
        "amount_fen": 10000 + n,
        "channel": "wechat_pay",
        "display": "surname",
        "donor": {"name": "王建国", "phone": "13800001111"},
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(url: str, token: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    """``concurrency`` keep-alive connections POSTing gifts back to back (lean client)."""
    latencies: list[float] = []
    counter = iter(range(total))
    host, port = url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        connection = Connection(host, int(port), headers)
        try:
            for n in counter:
                started = time.perf_counter()
                reply = await connection.request("POST", "/api/v1/donations", gift(n))
                latencies.append(time.perf_counter() - started)
                if reply.status != 201:
                    raise RuntimeError(f"{reply.status}: {reply.body[:300]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return total / elapsed, latencies


async def raw_ceiling(dsn: str, total: int, concurrency: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    counter = iter(range(total))
    payload = json.dumps({"amount_fen": 10000, "display_name": "王某"})

    async def worker() -> None:
        async with pool.acquire() as conn:
            for n in counter:
                now = datetime.now(UTC)
                donor_id, donation_id = uuid7(), uuid7()
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO donors (id, donor_type, name, phone, display, created_at) "
                        "VALUES ($1, 'individual', '王建国', '13800001111', 'surname', $2)",
                        donor_id,
                        now,
                    )
                    await conn.execute(
                        "INSERT INTO donations (id, tracking_code, kind, status, amount_fen,"
                        " channel, display, display_name, donor_id, received_at, created_at,"
                        " created_by)"
                        " VALUES ($1, $2, 'money', 'received', $3, 'wechat_pay', 'surname', '王某',"
                        " $4, $5, $5, 'bench')",
                        donation_id,
                        new_tracking_code(),
                        10000 + n,
                        donor_id,
                        now,
                    )
                    await conn.execute(
                        "INSERT INTO audit_log (at, actor, action, entity, entity_id, after) "
                        "VALUES ($1, 'bench', 'donation.record', 'donation', $2, $3::jsonb)",
                        now,
                        str(donation_id),
                        payload,
                    )
                    await conn.execute(
                        "INSERT INTO outbox (id, topic, key, type, source, subject, time, payload) "
                        "VALUES ($1, 'bench.raw', $2, 'org.redcross.fenghua.donation.received.v1',"
                        " '/bench', $2, $3, $4::jsonb)",
                        uuid7(),
                        str(donation_id),
                        now,
                        payload,
                    )
                    await conn.execute("NOTIFY sunshine_outbox_raw")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    key_dir = keys()
    settings = DonationSettings(
        db_name="donation_bench",
        db_port=PG_PORT,
        port=PORT,
        topic_prefix="bench.",
        jwt_public_key_file=key_dir / "jwt_public.pem",
        jwt_private_key_file=key_dir / "jwt_private.pem",
    )
    await fresh_database(settings, MIGRATIONS)
    await ensure_topics(KAFKA, all_topics("bench."))
    env = env_for(
        "DONATION_",
        db_name=settings.db_name,
        db_port=PG_PORT,
        port=PORT,
        topic_prefix="bench.",
        jwt_public_key_file=settings.jwt_public_key_file,
        jwt_private_key_file=settings.jwt_private_key_file,
        log_level="WARNING",
        db_pool_size=args.concurrency,  # as the raw ceiling: no overflow connections churning
    )
    process = start_service("donation", env)
    url = f"http://127.0.0.1:{PORT}"
    try:
        wait_ready(url, process)
        idle_rss = rss_mb(process.pid)
        token = httpx.post(
            url + "/api/v1/auth/token", data={"username": "finance", "password": "sunshine-demo"}
        ).json()["access_token"]
        await drive(url, token, 300, args.concurrency)  # warm-up
        peak = [idle_rss]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peak.append(rss_mb(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu_before, client_before = cpu_seconds(process.pid), cpu_seconds(os.getpid())
        rate, latencies = await drive(url, token, args.requests, args.concurrency)
        cpu_per_gift_ms = (cpu_seconds(process.pid) - cpu_before) / args.requests * 1000
        client_ms = (cpu_seconds(os.getpid()) - client_before) / args.requests * 1000
        done.set()
        sampler.join()
    finally:
        stop(process)
    ceiling = await raw_ceiling(settings.asyncpg_dsn, args.requests, args.concurrency)
    print(f"gift intake  ({args.requests} POSTs, concurrency {args.concurrency})")
    print(f"  service      {rate:8.1f} gifts/s   {summary(latencies)}")
    print(
        f"  raw ceiling  {ceiling:8.1f} gifts/s   "
        "(bare asyncpg, same rows + outbox, same concurrency)"
    )
    print(f"  ratio        {rate / ceiling:8.2f}      (target >= 0.5)")
    print(
        f"  donation CPU {cpu_per_gift_ms:8.2f} ms per gift (user+system, relay included; "
        "steadier than rates on a busy machine)"
    )
    print(f"  client CPU   {client_ms:8.2f} ms per gift (this script's HTTP client, same machine)")
    print(f"  donation RSS idle {idle_rss:.0f} MB, under load max {max(peak):.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
