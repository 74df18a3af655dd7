"""Small asyncio helpers our background loops share.

Not ``asyncio.wait_for`` around an event in a loop: on Python 3.11 a cancellation that arrives
in the same turn as the event is set is swallowed (wait_for returns the event's result;
CPython gh-86296, fixed by 3.12's rewrite of wait_for on ``asyncio.timeout``). A loop that
then waits again never ends, and shutdown, which cancels and awaits every background task,
hangs with it — as the relay did, woken by a commit's NOTIFY just as the app stopped.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it is set. A
    cancellation always propagates."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
