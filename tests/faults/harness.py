"""Fault-injection harness: real processes, a real broker, real databases, real faults.

The suite runs on infrastructure of its own so that killing it disturbs nobody else:
- its own Kafka broker (``deploy/kafka/kafka.sh`` with a separate state dir and ports),
- its own PostgreSQL cluster for the consuming services (notification, warehouse), so that
  "the consumer's database is down" can be real while the donation service keeps taking gifts,
- the donation service's database on the main cluster.

A scenario runs a steady flow of gifts (each with its own Idempotency-Key; clients retry
failures with the same key, as real clients do), injects its fault, heals it, waits for
quiescence and counts: sent, acknowledged (2xx), applied in the system of record, visible in
each projection, duplicates, lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from shared.config import ServiceSettings
from tests.e2e.conftest import settings_env

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".local" / "faults"
LOGS = STATE / "logs"
KAFKA_PORT = int(os.environ.get("SUNSHINE_FAULT_KAFKA_PORT", "19192"))
KAFKA_CONTROLLER_PORT = KAFKA_PORT + 1
# Below Linux's ephemeral range (32768-60999): this cluster is restarted mid-run, when a busy
# test run's outgoing sockets could otherwise be holding the port.
CONSUMER_PG_PORT = int(os.environ.get("SUNSHINE_FAULT_PG_PORT", "15498"))
BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"


def _infra_env() -> dict[str, str]:
    return os.environ | {
        "SUNSHINE_STATE_DIR": str(STATE / "infra"),
        "KAFKA_PORT": str(KAFKA_PORT),
        "KAFKA_CONTROLLER_PORT": str(KAFKA_CONTROLLER_PORT),
        "PG_PORT": str(CONSUMER_PG_PORT),
        "PG_DATABASES": "notification_faults warehouse_faults",
    }


def kafka(command: str) -> None:
    """``start`` / ``stop`` / ``kill`` the suite's own broker."""
    subprocess.run(
        [str(REPO / "deploy" / "kafka" / "kafka.sh"), command],
        env=_infra_env(),
        check=True,
        timeout=240,
        capture_output=True,
    )


def consumer_postgres(command: str) -> None:
    """``start`` / ``stop`` the PostgreSQL cluster of the consuming services."""
    subprocess.run(
        [str(REPO / "deploy" / "postgres" / "pg.sh"), command],
        env=_infra_env(),
        check=True,
        timeout=120,
        capture_output=True,
    )


@dataclass
class Service:
    """One service process; ``kill`` is SIGKILL (no cleanup), ``stop`` is SIGTERM."""

    name: str
    settings: ServiceSettings
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    faults_armed: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self, **env: str) -> None:
        """Start the process; ``env`` arms faults for this run of it (see shared/faults.py)."""
        self.faults_armed = dict(env)
        LOGS.mkdir(parents=True, exist_ok=True)
        log = (LOGS / f"{self.name}-{self.settings.port}.log").open("ab")
        full_env = (
            os.environ | settings_env(self.settings, f"{self.name.upper()}_") | self.extra_env | env
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.name, "serve"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def wait_live(self, timeout: float = 60) -> None:
        """Wait for /healthz (the process serves; its dependencies may still be down)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited; see {LOGS}")
                try:
                    if (await client.get(self.url + "/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not live after {timeout}s; see {LOGS}")


@dataclass
class Flow:
    """A steady stream of gifts posted with retries; remembers what was acknowledged."""

    url: str
    token: str
    marker: str
    sent: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> donation id
    goods: set[str] = field(default_factory=set)  # donation ids of goods gifts
    failures: int = 0

    def body(self, n: int) -> dict[str, object]:
        if n % 5 == 0:  # every fifth gift is goods: it must also reach the warehouse
            return {
                "kind": "goods",
                "channel": "on_site",
                "display": "named",
                "note": self.marker,
                "donor": {"name": "奉化爱心企业", "donor_type": "organization"},
                "items": [
                    {
                        "item_code": "QUILT",
                        "name": "棉被",
                        "quantity": 2,
                        "unit": "床",
                        "value_fen": 24000,
                    }
                ],
            }
        return {
            "amount_fen": 1000 + n,
            "channel": "wechat_pay",
            "display": "surname",
            "note": self.marker,
            "donor": {"name": "王建国", "phone": "13800001111"},
        }

    async def run(
        self, count: int, rate: float, *, retry_for_s: float = 180, in_flight: int = 64
    ) -> None:
        """Post ``count`` gifts at ``rate``; each client retries for ``retry_for_s``.

        At most ``in_flight`` requests are on the wire at once, within the connection pool's
        size: httpcore assigns waiting requests to connections in a scan over all of them, so
        thousands of queued requests (gifts piling up while the broker is down) once turned
        this client into a 100 % CPU busy loop and starved the flow it was meant to measure.
        """
        headers = {"Authorization": f"Bearer {self.token}"}
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        slots = asyncio.Semaphore(in_flight)
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=10, limits=limits
        ) as client:

            async def one(n: int) -> None:
                key = f"{self.marker}-{n}"
                body = self.body(n)
                deadline = time.monotonic() + retry_for_s
                delay = 0.2
                while time.monotonic() < deadline:
                    try:
                        async with slots:
                            response = await client.post(
                                "/api/v1/donations", json=body, headers={"Idempotency-Key": key}
                            )
                        if response.status_code == 201:
                            donation_id = response.json()["id"]
                            self.acknowledged[key] = donation_id
                            if body.get("kind") == "goods":
                                self.goods.add(donation_id)
                            return
                        if response.status_code < 500:
                            raise AssertionError(f"{response.status_code}: {response.text}")
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 3)

            tasks = []
            started = time.monotonic()
            for n in range(count):
                pause = started + n / rate - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                self.sent += 1
                tasks.append(asyncio.create_task(one(n)))
            await asyncio.gather(*tasks)


@dataclass
class Counts:
    scenario: str
    sent: int
    acknowledged: int
    applied: int
    feed: int
    warehouse: int
    duplicates: int
    lost: int

    ROW = "{:<44} {:>6} {:>6} {:>8} {:>6} {:>9} {:>5} {:>5}"

    @classmethod
    def header(cls) -> str:
        return cls.ROW.format(
            "scenario", "sent", "acked", "applied", "feed", "warehouse", "dup", "lost"
        )

    def row(self) -> str:
        return self.ROW.format(
            self.scenario,
            self.sent,
            self.acknowledged,
            self.applied,
            self.feed,
            self.warehouse,
            self.duplicates,
            self.lost,
        )


async def count(
    scenario: str,
    flow: Flow,
    *,
    donation_dsn: str,
    notification_dsn: str,
    warehouse_dsn: str,
    settle_timeout_s: float = 120,
) -> Counts:
    """Wait for quiescence (projections caught up or stopped moving), then count."""
    ids = list(flow.acknowledged.values())
    goods = list(flow.goods)

    async def snapshot() -> tuple[int, int, int, int, int]:
        d = await asyncpg.connect(donation_dsn)
        n = await asyncpg.connect(notification_dsn)
        w = await asyncpg.connect(warehouse_dsn)
        try:
            applied = await d.fetchval(
                "SELECT count(*) FROM donations WHERE note = $1", flow.marker
            )
            # One statement each, so both counts come from the same snapshot.
            feed = await n.fetchrow(
                "SELECT count(*) AS rows, count(DISTINCT subject_id) AS gifts FROM feed_entries "
                "WHERE subject_id = ANY($1::text[]) AND kind = 'donation.received'",
                ids,
            )
            inbound = await w.fetchrow(
                "SELECT count(*) AS rows, count(DISTINCT donation_id) AS gifts FROM inbounds "
                "WHERE donation_id = ANY($1::uuid[])",
                [uuid.UUID(g) for g in goods],
            )
        finally:
            await d.close()
            await n.close()
            await w.close()
        duplicates = (feed["rows"] - feed["gifts"]) + (inbound["rows"] - inbound["gifts"])
        return applied, feed["gifts"], inbound["gifts"], duplicates, feed["rows"]

    deadline = time.monotonic() + settle_timeout_s
    last: tuple[int, int, int, int, int] | None = None
    stable_since = time.monotonic()
    while True:
        current = await snapshot()
        done = current[1] >= len(ids) and current[2] >= len(goods)
        if current != last:
            last, stable_since = current, time.monotonic()
        if done or time.monotonic() > deadline or time.monotonic() - stable_since > 45:
            break
        await asyncio.sleep(0.5)
    applied, feed, warehouse, duplicates, _ = last
    duplicates += max(0, applied - flow.sent)  # more gifts recorded than were ever sent
    acked = len(flow.acknowledged)
    lost = (acked - min(applied, acked)) + (acked - feed) + (len(goods) - warehouse)
    return Counts(scenario, flow.sent, acked, applied, feed, warehouse, duplicates, lost)
