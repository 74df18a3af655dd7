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


# --------------------------------------------------------------------------- added for 4 and 6


def staff_tokens(key_dir: Path, users: dict[str, str]) -> dict[str, str]:
    """Bearer tokens for ``{username: role}``, signed with the bench key (1 hour)."""
    from datetime import timedelta

    from shared.auth import StaffPrincipal, TokenIssuer

    defaults = ServiceSettings()
    issuer = TokenIssuer(
        key_dir / "jwt_private.pem",
        issuer=defaults.jwt_issuer,
        audience=defaults.jwt_audience,
        ttl=timedelta(hours=1),
    )
    return {
        user: issuer.issue(StaffPrincipal(user, frozenset({role}))) for user, role in users.items()
    }


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` plus its descendants, in MB (nan if the process is gone)."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            total += rss_mb(p)
        except OSError:
            if p == pid:
                return float("nan")
    return total


class PySpy:
    """``py-spy record`` attached to a running process, raw (collapsed) stacks; profiling
    only: py-spy is installed into the venv by hand, not a project dependency."""

    def __init__(self, pid: int, name: str, rate: int = 100) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.output = LOGS / f"{name}.collapsed.txt"
        self.log = (LOGS / f"{name}.py-spy.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(self.output),
                "--nonblocking",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> Path:
        import signal

        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        return self.output


def _frame(raw: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py)``."""
    name, sep, where = raw.partition(" (")
    if not sep:
        return raw
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"


def profile_report(collapsed: Path, top: int = 25, focus: str = "") -> str:
    """Inclusive and self share of the sampled stacks (optionally only those containing
    ``focus``), from py-spy's collapsed output."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or (focus and focus not in stack):
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples" + (f" in stacks containing {focus!r}" if focus else "")]
    lines.append("  inclusive:")
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * count / total:5.1f}%  {frame}")
    lines.append("  self:")
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
