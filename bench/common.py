"""Helpers shared by the benchmarks: bench databases, service processes, percentiles."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.auth import generate_keypair
from shared.config import LOCAL_STATE, ServiceSettings
from shared.migrations import upgrade

PG_PORT = int(os.environ.get("PG_PORT", "55432"))
KAFKA = os.environ.get("SUNSHINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KEYS = LOCAL_STATE / "bench-keys"
LOGS = LOCAL_STATE / "bench-logs"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_s: list[float]) -> str:
    ms = [v * 1000 for v in latencies_s]
    return (
        f"p50 {percentile(ms, 50):.1f} ms  p95 {percentile(ms, 95):.1f} ms  "
        f"p99 {percentile(ms, 99):.1f} ms  mean {statistics.fmean(ms):.1f} ms"
    )


async def fresh_database(settings: ServiceSettings, migrations: Path) -> None:
    admin = await asyncpg.connect(settings.asyncpg_dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{settings.db_name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade, settings, migrations)


def keys() -> Path:
    generate_keypair(KEYS)
    return KEYS


def start_service(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", name, "serve"],
        env=os.environ | env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited ({process.returncode}); see {LOGS}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def env_for(prefix: str, **values: Any) -> dict[str, str]:
    return {f"{prefix}{k.upper()}": str(v) for k, v in values.items()}
