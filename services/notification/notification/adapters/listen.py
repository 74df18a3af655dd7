"""A LISTEN connection that reconnects by itself (the caller polls as a fallback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger("sunshine.notification.listen")


async def listen_forever(dsn: str, channel: str, on_notify: Callable[[], None]) -> None:
    """Call ``on_notify`` on every NOTIFY of ``channel`` and once after each (re)connect."""
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())  # type: ignore[misc]
            await conn.add_listener(channel, lambda *_: on_notify())
            on_notify()  # catch up on anything written while we were away
            await lost.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - fall back to polling, retry
            log.debug("LISTEN %s unavailable: %s", channel, exc)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
        await asyncio.sleep(2)
