"""The consumer runner never waits forever on a stuck Kafka client: a commit that does not
return ends the run (the supervisor starts a fresh client), a lag probe that does not return is
skipped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from shared.messaging import consumer as consumer_module
from shared.messaging.consumer import ConsumerRunner, ConsumerStalled

TP = TopicPartition("t", 0)


class StuckClient:
    """Answers nothing: what the client did after a broker was killed under it."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.Event().wait()

    async def position(self, tp: TopicPartition) -> int:
        await asyncio.Event().wait()
        return 0

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int:
        return 10


def runner() -> ConsumerRunner:
    return ConsumerRunner(
        name="unit.group",
        service="tests",
        topics=["t"],
        handlers={},
        session_factory=None,  # type: ignore[arg-type]
        bootstrap="127.0.0.1:1",
    )


async def test_a_commit_that_never_returns_ends_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "COMMIT_TIMEOUT_S", 0.05)
    client: Any = StuckClient()
    with pytest.raises(ConsumerStalled):
        await runner()._commit(client, {TP: 5})


async def test_a_lag_probe_that_never_returns_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "LAG_POSITION_TIMEOUT_S", 0.05)
    client: Any = StuckClient()
    await asyncio.wait_for(runner()._report_lag(client), timeout=2)
