"""Supervised background loops: restarted after a crash, ended by a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from shared.runtime import supervised


async def test_a_crashed_loop_is_restarted() -> None:
    runs = 0
    restarted = asyncio.Event()

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("crash")
        restarted.set()
        await asyncio.Event().wait()

    task = supervised(loop, "test", pause_s=0.01)
    await asyncio.wait_for(restarted.wait(), timeout=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == 2


async def test_cancelling_ends_a_loop_whose_task_group_answers_with_an_error() -> None:
    """A child failing while it is cancelled turns the cancellation into an ExceptionGroup."""
    runs = 0
    finished = False
    started = asyncio.Event()

    async def child() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    async def loop() -> None:
        nonlocal runs
        if finished:
            return  # lets a wrongly restarted loop end, so a failure leaves nothing running
        runs += 1
        async with asyncio.TaskGroup() as group:
            group.create_task(child())
            started.set()

    task = supervised(loop, "test", pause_s=0.01)
    await asyncio.wait_for(started.wait(), timeout=2)
    await asyncio.sleep(0)
    task.cancel()
    # before the fix the loop was restarted, and awaiting it waited forever (as shutdown did)
    done, _ = await asyncio.wait({task}, timeout=2)
    finished = True
    assert task in done, "the cancelled loop was restarted instead of ending"
    assert task.cancelled()
    assert runs == 1
