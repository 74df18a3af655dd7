"""``shared.aio``: a cancellation in the same turn as the awaited thing completes ends the
loop waiting on it (``asyncio.wait_for`` on Python 3.11 swallows it, and the loop runs on);
``stop_if_cancelled`` ends a loop whose stop request a library lost."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

import pytest

from shared.aio import stop_if_cancelled, wait_event, within


async def _loop(wait: Callable[[asyncio.Event], Awaitable[object]], event: asyncio.Event) -> None:
    while True:  # like the relay: wait for a wake-up or the poll interval, again and again
        await wait(event)
        event.clear()


async def _cancel_as_it_wakes(wait: Callable[[asyncio.Event], Awaitable[object]]) -> bool:
    """Whether the loop ended when cancelled in the turn its event was set."""
    event = asyncio.Event()
    task = asyncio.create_task(_loop(wait, event))
    await asyncio.sleep(0.01)  # the loop is waiting
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    if not done:
        task.cancel()  # a second cancellation, in a later turn, is not lost
        await asyncio.wait({task}, timeout=1)
    return bool(done)


async def test_a_cancellation_as_the_event_is_set_ends_the_loop() -> None:
    assert await _cancel_as_it_wakes(lambda e: wait_event(e, 5))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12's wait_for no longer loses it")
async def test_wait_for_would_have_lost_it() -> None:
    """The reason for the helper, shown: the same loop on ``asyncio.wait_for`` runs on."""
    assert not await _cancel_as_it_wakes(lambda e: asyncio.wait_for(e.wait(), 5))


async def test_it_answers_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 1) is True


async def test_within_keeps_a_cancellation_as_the_awaited_call_finishes() -> None:
    """Like a consumer's offset commit answered in the turn shutdown cancels the consumer."""
    assert await _cancel_as_it_wakes(lambda e: within(e.wait(), 5))


async def test_within_times_out_and_cancels_what_it_awaited() -> None:
    started = asyncio.Event()
    cancelled = False

    async def slow() -> None:
        nonlocal cancelled
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled = True
            raise

    with pytest.raises(TimeoutError):
        await within(slow(), 0.05)
    assert started.is_set()
    assert cancelled
    assert await within(asyncio.sleep(0, result="answer"), 1) == "answer"


async def test_a_loop_ends_at_its_next_round_when_a_library_lost_its_stop_request() -> None:
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            stop_if_cancelled()
            rounds += 1
            # a library that swallows the cancellation (as 3.11's wait_for can)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.03)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    assert done
    assert task.cancelled()
    assert rounds >= 2
