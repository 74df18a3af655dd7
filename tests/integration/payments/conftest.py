"""Gateway adapter tests against the sandbox process (no PostgreSQL or Kafka needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.payment_sandbox_process import NotifySink, SandboxProcess, notify_sink, start_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    state: Path = tmp_path_factory.mktemp("payment-sandbox") / "state"
    with start_sandbox(state) as process:
        yield process


@pytest.fixture(scope="session")
def sandbox_platform_cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A second sandbox that signs WeChat answers with a platform certificate."""
    state: Path = tmp_path_factory.mktemp("payment-sandbox-cert") / "state"
    with start_sandbox(state, sign_mode="platform_cert") as process:
        yield process


@pytest.fixture
def sink() -> Iterator[NotifySink]:
    with notify_sink() as receiver:
        yield receiver
