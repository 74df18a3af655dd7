"""Small asyncio helpers our background loops share.

Not ``asyncio.wait_for`` around an event in a loop: on Python 3.11 a cancellation that arrives
in the same turn as the event is set is swallowed (wait_for returns the event's result;
CPython gh-86296, fixed by 3.12's rewrite of wait_for on ``asyncio.timeout``). A loop that
then waits again never ends, and shutdown, which cancels and awaits every background task,
hangs with it — as the relay did, woken by a commit's NOTIFY just as the app stopped, and
as a Kafka consumer did whose offset commit finished in the turn the app cancelled it.
Every bounded await in our code goes through :func:`within` (``asyncio.timeout``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, or ``TimeoutError`` after ``seconds`` (it is cancelled then):
    ``asyncio.wait_for`` without 3.11's lost cancellation."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it is set. A
    cancellation always propagates."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` if this task was asked to stop and the request got lost on
    its way (swallowed by a ``wait_for`` in a library): a loop calls it once per round, so
    that a stop request ends it at the next round at the latest."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
