"""The alert monitor: escalates alerts left open too long and keeps the gauge true.

Woken by ``NOTIFY sunshine_alerts`` (sent by every committed alert change) to recompute the
open-alerts gauge from the database at once; every ``alert_check_interval_s`` it also
escalates what is due. The gauge is computed at start-up too, so it is right after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.adapters.alert_tables import ALERTS_CHANNEL
from notification.adapters.listen import listen_forever
from notification.service_layer.alerts import escalate_due, refresh_gauge
from notification.service_layer.notices import Routing
from shared.aio import wait_event

log = logging.getLogger("sunshine.notification.alerts")


class AlertMonitor:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        dsn: str,
        routing: Routing,
        escalate_after: timedelta,
        check_interval_s: float,
    ) -> None:
        self._session_factory = session_factory
        self._dsn = dsn
        self._routing = routing
        self._after = escalate_after
        self._interval = check_interval_s
        self._changed = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen_forever(), name="alert-monitor-listen")
        loop = asyncio.get_running_loop()
        next_check = 0.0
        try:
            while True:
                try:
                    if loop.time() >= next_check:
                        escalated = await escalate_due(
                            self._session_factory, self._routing, after=self._after
                        )
                        if escalated:
                            log.info("escalated %d alerts", escalated)
                        next_check = loop.time() + self._interval
                    self._changed.clear()
                    await refresh_gauge(self._session_factory)
                except Exception as exc:  # noqa: BLE001 - the monitor never dies; it backs off
                    log.warning("alert monitor round failed: %s", exc)
                    await asyncio.sleep(2)
                    continue
                timeout = max(next_check - loop.time(), 0.05)
                await wait_event(self._changed, timeout)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _listen_forever(self) -> None:
        await listen_forever(self._dsn, ALERTS_CHANNEL, self._changed.set)
