"""Benchmark 6 — memory: RSS of each service (donation, warehouse, notification, each a
process started as ``python -m <service> serve``) idle and under a moderate mixed load, and,
for information, the Kafka broker's RSS and PostgreSQL's total.

Load (closed loop, for --seconds): gift intake at the donation service (4 in 5 money gifts,
1 in 5 goods gifts, so events flow to the warehouse, which announces an expected inbound, and
to the notification service's feed), dispatches at the warehouse (request → approve → pick →
ship, whose events reach the feed too) and public reads at the notification service (feed
pages, summary, tree head). VmRSS of each process and its children is sampled every 0.5 s
from /proc; "idle" is the median of 10 s of samples after start-up and seeding, "max" the
largest sample under load and while the consumers drain what it produced.

    .local/venv/bin/python -m bench.memory [--seconds 60] [--gift-workers 8]
        [--dispatch-workers 4] [--read-workers 8]

Needs PostgreSQL and Kafka running (`scripts/infra.sh up`). Uses its own databases
(*_bench_mem), ports 28101-28103 and topic prefix (bench6.).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
    KAFKA,
    PG_PORT,
    env_for,
    fresh_database,
    keys,
    rss_mb,
    staff_tokens,
    start_service,
    stop,
    tree_pids,
    tree_rss_mb,
    wait_ready,
)
from bench.dispatch_contention import USERS, Client, Results, one_dispatch
from bench.dispatch_contention import seed as seed_warehouse
from donation.config import DonationSettings
from donation.main import MIGRATIONS as DONATION_MIGRATIONS
from notification.config import NotificationSettings
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from shared.config import LOCAL_STATE, ServiceSettings
from shared.messaging.topics import all_topics, ensure_topics
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS as WAREHOUSE_MIGRATIONS

PREFIX = "bench6."
TARGET_MB = 200
PORTS = {"donation": 28101, "warehouse": 28102, "notification": 28103}


# --------------------------------------------------------------------------- processes


def kafka_pid() -> int | None:
    """Our broker's pid, as deploy/kafka/kafka.sh finds it (pid file, then its cmdline)."""
    pid_file = LOCAL_STATE / "kafka" / "kafka.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    props = str(LOCAL_STATE / "kafka" / "server.properties").encode()
    return pid if props in cmdline else None


def postmaster_pid() -> int | None:
    """The PostgreSQL cluster on PG_PORT (postmaster.pid: line 1 pid, line 4 port)."""
    try:
        lines = (LOCAL_STATE / "postgres" / "data" / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return pid if port == PG_PORT and Path(f"/proc/{pid}").exists() else None


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages divided among the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pg_memory(pid: int) -> tuple[float, float]:
    """(sum of VmRSS, sum of PSS) over the postmaster and its children, in MB. The RSS sum
    counts shared buffers once per backend that touched them; the PSS sum does not."""
    rss = pss = 0.0
    for p in tree_pids(pid):
        try:
            rss += rss_mb(p)
        except OSError:
            continue
        pss += pss_mb(p)
    return rss, pss


class Sampler(threading.Thread):
    """Every 0.5 s: RSS of each service tree, the broker and PostgreSQL, tagged by phase."""

    def __init__(self, services: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.services = services
        self.kafka = kafka_pid()
        self.postgres = postmaster_pid()
        self.phase = "start"
        self.samples: list[tuple[str, dict[str, float]]] = []
        self.done = threading.Event()

    def sample(self) -> dict[str, float]:
        values = {name: tree_rss_mb(pid) for name, pid in self.services.items()}
        if self.kafka:
            values["kafka"] = tree_rss_mb(self.kafka)
        if self.postgres:
            values["postgres"], values["postgres_pss"] = pg_memory(self.postgres)
        return values

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.samples.append((self.phase, self.sample()))

    def series(self, name: str, *phases: str) -> list[float]:
        return [v[name] for phase, v in self.samples if phase in phases and name in v]


# --------------------------------------------------------------------------- load


def gift(n: int) -> dict[str, Any]:
    donor = {"name": "王建国", "phone": "13800001111"}
    if n % 5 == 4:
        return {
            "kind": "goods",
            "channel": "on_site",
            "display": "surname",
            "donor": donor,
            "items": [
                {
                    "item_code": "PLENTY",
                    "name": "压测物资 PLENTY",
                    "quantity": 10,
                    "unit": "箱",
                    "value_fen": 10_000,
                }
            ],
        }
    return {"amount_fen": 10_000 + n, "channel": "wechat_pay", "display": "surname", "donor": donor}


READS = [
    "/api/v1/public/feed?limit=20",
    "/api/v1/public/summary",
    "/api/v1/public/feed?limit=100",
    "/api/v1/public/tree-head",
]


async def mixed_load(
    tokens: dict[str, str], seconds: float, gift_workers: int, dispatch_workers: int, reads: int
) -> Counter[str]:
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    serial = itertools.count()
    urls = {name: f"http://127.0.0.1:{port}" for name, port in PORTS.items()}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=urls["donation"], timeout=60, limits=limits) as donation,
        httpx.AsyncClient(base_url=urls["warehouse"], timeout=60, limits=limits) as warehouse,
        httpx.AsyncClient(base_url=urls["notification"], timeout=60, limits=limits) as public,
    ):
        finance = {"Authorization": f"Bearer {tokens['finance1']}"}
        c = Client(warehouse, tokens)
        results = Results()

        async def gifts() -> None:
            while time.monotonic() < deadline:
                n = next(serial)
                r = await donation.post(
                    "/api/v1/donations",
                    json=gift(n),
                    headers=finance | {"Idempotency-Key": str(uuid.uuid4())},
                )
                counts["gift " + ("ok" if r.status_code == 201 else str(r.status_code))] += 1

        async def dispatches() -> None:
            while time.monotonic() < deadline:
                n = next(serial)
                lines = [("PLENTY", 1 + n % 20)] + ([("MEDIUM", 1)] if n % 3 == 0 else [])
                await one_dispatch(c, results, n, lines)

        async def readers() -> None:
            for url in itertools.cycle(READS):
                if time.monotonic() >= deadline:
                    return
                r = await public.get(url)
                counts["read " + ("ok" if r.status_code == 200 else str(r.status_code))] += 1

        await asyncio.gather(
            *(gifts() for _ in range(gift_workers)),
            *(dispatches() for _ in range(dispatch_workers)),
            *(readers() for _ in range(reads)),
        )
    counts["dispatch requested"] = results.created
    counts["dispatch shipped"] = len(results.shipped)
    counts["dispatch refused"] = len(results.refused)
    for key, value in results.other.items():
        counts["dispatch unexpected " + key] = value
    return counts


async def scalar(settings: ServiceSettings, sql: str) -> int:
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        return int(await conn.fetchval(sql) or 0)
    finally:
        await conn.close()


async def drained(
    donation: DonationSettings, notification: NotificationSettings, timeout: float = 120
) -> tuple[int, int, float]:
    """Wait until the feed stops growing and the outboxes are empty (the consumers caught up);
    returns (gifts recorded, feed entries, seconds waited)."""
    started = time.monotonic()
    last = -1
    while time.monotonic() - started < timeout:
        entries = await scalar(notification, "SELECT count(*) FROM feed_entries")
        pending = await scalar(donation, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if entries == last and pending == 0:
            break
        last = entries
        await asyncio.sleep(2)
    gifts = await scalar(donation, "SELECT count(*) FROM donations")
    return gifts, last, time.monotonic() - started


# --------------------------------------------------------------------------- main


def row(name: str, idle: list[float], load: list[float], target: bool) -> str:
    idle_mb = statistics.median(idle) if idle else float("nan")
    max_mb = max(load) if load else float("nan")
    verdict = ""
    if target:
        verdict = "ok" if max_mb < TARGET_MB else "OVER"
    return f"  {name:24s} {idle_mb:9.0f} {max_mb:12.0f}   {verdict}"


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--gift-workers", type=int, default=8)
    parser.add_argument("--dispatch-workers", type=int, default=4)
    parser.add_argument("--read-workers", type=int, default=8)
    args = parser.parse_args()
    key_dir = keys()
    common: dict[str, Any] = {
        "db_port": PG_PORT,
        "topic_prefix": PREFIX,
        "jwt_public_key_file": key_dir / "jwt_public.pem",
        "log_level": "WARNING",
    }
    donation = DonationSettings(db_name="donation_bench_mem", port=PORTS["donation"], **common)
    warehouse = WarehouseSettings(db_name="warehouse_bench_mem", port=PORTS["warehouse"], **common)
    notification = NotificationSettings(
        db_name="notification_bench_mem", port=PORTS["notification"], **common
    )
    await fresh_database(donation, DONATION_MIGRATIONS)
    await fresh_database(warehouse, WAREHOUSE_MIGRATIONS)
    await fresh_database(notification, NOTIFICATION_MIGRATIONS)
    await ensure_topics(KAFKA, all_topics(PREFIX))
    processes = {
        "donation": start_service(
            "donation",
            env_for("DONATION_", db_name=donation.db_name, port=donation.port, **common)
            | env_for("DONATION_", jwt_private_key_file=key_dir / "jwt_private.pem"),
        ),
        "warehouse": start_service(
            "warehouse",
            env_for("WAREHOUSE_", db_name=warehouse.db_name, port=warehouse.port, **common),
        ),
        "notification": start_service(
            "notification",
            env_for(
                "NOTIFICATION_", db_name=notification.db_name, port=notification.port, **common
            ),
        ),
    }
    sampler = Sampler({name: p.pid for name, p in processes.items()})
    tokens = staff_tokens(key_dir, USERS | {"finance1": "finance"})
    try:
        for name, process in processes.items():
            wait_ready(f"http://127.0.0.1:{PORTS[name]}", process)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PORTS['warehouse']}", timeout=60
        ) as http:
            await seed_warehouse(Client(http, tokens), date.today())
        sampler.start()
        await asyncio.sleep(5)  # settle after start-up and seeding
        sampler.phase = "idle"
        await asyncio.sleep(10)
        sampler.phase = "load"
        started = time.monotonic()
        counts = await mixed_load(
            tokens, args.seconds, args.gift_workers, args.dispatch_workers, args.read_workers
        )
        elapsed = time.monotonic() - started
        sampler.phase = "drain"
        gifts, entries, waited = await drained(donation, notification)
        inbounds = await scalar(
            warehouse, "SELECT count(*) FROM inbounds WHERE donation_id IS NOT NULL"
        )
        sampler.phase = "after"
        await asyncio.sleep(3)
    finally:
        sampler.done.set()
        for process in processes.values():
            stop(process)
    sampler.join()

    print(f"memory  (mixed load for {elapsed:.0f} s, then {waited:.0f} s for consumers to drain)")
    ok = counts["gift ok"]
    print(
        f"  load: {ok} gifts ({ok / elapsed:.1f}/s, {gifts} recorded), "
        f"{counts['dispatch shipped']} dispatches shipped "
        f"({counts['dispatch shipped'] / elapsed:.1f}/s, {counts['dispatch requested']} "
        f"requested), {counts['read ok']} public reads ({counts['read ok'] / elapsed:.0f}/s)"
    )
    print(
        f"  events flowed: {entries} public feed entries, {inbounds} expected inbounds from "
        "goods gifts at the warehouse"
    )
    fine = ("ok", "requested", "shipped", "refused")
    bad = {k: v for k, v in counts.items() if v and not k.endswith(fine)}
    if bad:
        print(f"  other answers: {bad}")
    print(f"  {'process (VmRSS, MB)':24s} {'idle':>9s} {'max (load)':>12s}   target < {TARGET_MB}")
    for name in PORTS:
        print(row(name, sampler.series(name, "idle"), sampler.series(name, "load", "drain"), True))
    if sampler.kafka:
        print(
            row(
                "kafka broker (JVM)",
                sampler.series("kafka", "idle"),
                sampler.series("kafka", "load", "drain"),
                False,
            )
        )
    else:
        print("  kafka broker             (pid not found under .local/kafka)")
    if sampler.postgres:
        print(
            row(
                "postgresql (sum of RSS)",
                sampler.series("postgres", "idle"),
                sampler.series("postgres", "load", "drain"),
                False,
            )
        )
        print(
            row(
                "postgresql (sum of PSS)",
                sampler.series("postgres_pss", "idle"),
                sampler.series("postgres_pss", "load", "drain"),
                False,
            )
        )
    else:
        print("  postgresql               (postmaster not found under .local/postgres)")
    print(
        "  (broker and PostgreSQL are shared with whatever else runs on the machine: for "
        "information only)"
    )
    over = [
        name for name in PORTS if max(sampler.series(name, "load", "drain"), default=0) >= TARGET_MB
    ]
    return 1 if over or bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
