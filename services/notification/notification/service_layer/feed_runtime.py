"""Background machinery of the public feed, started in the app's lifespan.

- the **checkpointer**: every ``LOG_CHECKPOINT_INTERVAL_S`` (at most a minute) it appends the
  settled entries to the Merkle log and signs a new tree head if the tree grew, then folds the
  summary's and the delay histogram's new deltas into their totals;
- the **live broadcaster**: ``LISTEN feed_entries`` (a trigger NOTIFYs after each insert
  commits) fans new entry numbers out to the server-sent-event streams of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from notification.adapters.feed_reads import PoolReader, create_reader
from notification.config import NotificationSettings
from notification.log.signing import LogSigner
from notification.log.store import checkpoint
from notification.service_layer import feed_metrics, summary, timeliness
from notification.service_layer.incidents import load_declared
from shared.runtime import ServiceRuntime, supervised

log = logging.getLogger("sunshine.feed")

SIGNER = "feed_signer"
BROADCASTER = "feed_broadcaster"
READS = "feed_read_sessions"
CHANNEL = "feed_entries"
HEAD_CHANNEL = "feed_heads"
Message = tuple[str, int]  # ("entry", seq) or ("head", tree_size)


class Broadcaster:
    """In-process fan-out of "entry ``seq`` was committed" / "head of ``n`` was signed"."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Message]] = set()

    def subscribe(self) -> asyncio.Queue[Message]:
        queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Message]) -> None:
        self._subscribers.discard(queue)

    def publish(self, message: Message) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a slow client re-reads from the DB
                queue.put_nowait(message)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def reads(runtime: ServiceRuntime) -> PoolReader:
    """The public read paths' reader (``notification.adapters.feed_reads``)."""
    reader: PoolReader = runtime.extras[READS]
    return reader


async def _close_at_exit(reader: PoolReader) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await reader.pool.close()


def signer_for(settings: NotificationSettings) -> LogSigner:
    return LogSigner.from_file(
        settings.log_signing_key_file, create=settings.environment != "production"
    )


async def run_checkpoints(runtime: ServiceRuntime, signer: LogSigner) -> None:
    settings: Any = runtime.settings
    while True:
        try:
            async with runtime.session_factory() as session, session.begin():
                head = await checkpoint(session, signer, settle_s=settings.log_settle_s)
            feed_metrics.LOG_TREE_SIZE.set(head.tree_size)
        except Exception as exc:  # noqa: BLE001 - keep checkpointing through outages
            log.warning("feed checkpoint failed: %s", exc)
        try:
            async with runtime.session_factory() as session, session.begin():
                await summary.fold(session)
                await timeliness.fold(session)
        except Exception as exc:  # noqa: BLE001 - the aggregates stay right, only less compact
            log.warning("feed aggregates fold failed: %s", exc)
        await asyncio.sleep(settings.log_checkpoint_interval_s)


async def run_listener(dsn: str, broadcaster: Broadcaster) -> None:
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10)

            def on_notify(_c: object, _pid: int, channel: str, payload: str) -> None:
                with contextlib.suppress(ValueError):
                    broadcaster.publish(
                        ("head" if channel == HEAD_CHANNEL else "entry", int(payload))
                    )

            await conn.add_listener(CHANNEL, on_notify)
            await conn.add_listener(HEAD_CHANNEL, on_notify)
            while not conn.is_closed():
                await asyncio.sleep(5)
                await conn.execute("SELECT 1")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reconnect after a pause
            log.warning("feed listener lost its connection: %s", exc)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        await asyncio.sleep(1)


async def start_feed(runtime: ServiceRuntime) -> None:
    """``on_startup`` hook: load (or, outside production, create) the key; start the tasks."""
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    feed_metrics.configure(settings)
    async with runtime.unit_of_work() as uow:  # the incidents declared major so far
        await load_declared(uow.session)
    signer = signer_for(settings)
    broadcaster = Broadcaster()
    runtime.extras[SIGNER] = signer
    runtime.extras[BROADCASTER] = broadcaster
    reader = runtime.extras[READS] = await create_reader(settings)
    runtime.tasks.append(asyncio.create_task(_close_at_exit(reader), name="feed-reads"))
    runtime.tasks.append(
        supervised(lambda: run_listener(settings.asyncpg_dsn, broadcaster), "feed-listener")
    )
    if settings.run_feed_log:
        runtime.tasks.append(supervised(lambda: run_checkpoints(runtime, signer), "feed-log"))
