"""The three services started as real processes (``python -m <service> serve``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.config import ServiceSettings

pytestmark = pytest.mark.e2e

LOGS = Path(__file__).resolve().parents[2] / ".local" / "test-logs"


def settings_env(settings: ServiceSettings, prefix: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list):
            import json

            value = json.dumps(value)
        env[f"{prefix}{name.upper()}"] = str(value)
    return env


class Stack:
    def __init__(self, settings: dict[str, ServiceSettings]) -> None:
        self.settings = settings
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.settings[service].port}"

    def start(self, service: str) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = os.environ | settings_env(self.settings[service], f"{service.upper()}_")
        log = (LOGS / f"{service}.log").open("ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", service, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.processes)
        while pending and time.monotonic() < deadline:
            for service in list(pending):
                process = self.processes[service]
                if process.poll() is not None:
                    raise RuntimeError(f"{service} exited with {process.returncode}; see {LOGS}")
                try:
                    if httpx.get(self.url(service) + "/readyz", timeout=2).status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready after {timeout}s: {sorted(pending)}; see {LOGS}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def stack(databases: dict[str, ServiceSettings], kafka_topics: list[str]) -> Iterator[Stack]:
    running = Stack(databases)
    for service in ("donation", "warehouse", "notification"):
        running.start(service)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def token(stack: Stack, role: str) -> str:
    response = httpx.post(
        stack.url("donation") + "/api/v1/auth/token",
        data={"username": role, "password": "sunshine-demo"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def wait_for(check: object, timeout: float = 30, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()  # type: ignore[operator]
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s")
