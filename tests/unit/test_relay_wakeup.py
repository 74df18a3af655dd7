"""The relay's wake-up: a commit notified while a round runs starts the next round at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.messaging.relay import OutboxRelay


class RoundsOnly(OutboxRelay):
    """The relay's loop with its rounds, producer, listener and housekeeping replaced."""

    def __init__(self, notify_during_round: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rounds = 0
        self.notify_during_round = notify_during_round
        self.second_round = asyncio.Event()

    async def _start_producer(self) -> None:
        self.connected = True

    async def _listen_forever(self) -> None:
        await asyncio.Event().wait()

    async def _housekeeping(self) -> None:
        return None

    async def publish_pending(self) -> int:
        self.rounds += 1
        if self.rounds == self.notify_during_round:
            await asyncio.sleep(0)
            self._wake.set()  # what the LISTEN callback does when another gift commits
        if self.rounds == 2:
            self.second_round.set()
        return 1  # one row published: fewer than a batch, so the relay would sleep


async def test_a_notify_during_a_round_is_not_lost() -> None:
    relay = RoundsOnly(
        1,
        engine=None,  # type: ignore[arg-type]  # never used: the rounds are replaced
        dsn="postgresql://unused",
        bootstrap="unused:9092",
        service="test",
        poll_interval_s=60,
    )
    running = asyncio.create_task(relay.run())
    try:
        # without the fix the row waits for the next commit or the 60 s poll
        await asyncio.wait_for(relay.second_round.wait(), timeout=5)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert relay.rounds >= 2


async def test_no_notify_means_the_relay_sleeps() -> None:
    relay = RoundsOnly(
        0,
        engine=None,  # type: ignore[arg-type]
        dsn="postgresql://unused",
        bootstrap="unused:9092",
        service="test",
        poll_interval_s=60,
    )
    running = asyncio.create_task(relay.run())
    await asyncio.sleep(0.3)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert relay.rounds == 1  # the control: only a notify (or the poll) starts a round
