"""The delivery worker: sends pending notice deliveries through their channels.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` (several workers may run, in one process or
many) and stay locked while the batch is sent; the outcome is written in the same transaction.
A worker claims only deliveries of the channels it runs (one for a channel no process runs
waits, then expires with the retention window). A transient failure is retried with
exponential backoff (with jitter); after ``delivery_max_attempts`` attempts, or at once for a
permanent failure (a 4xx from a webhook, a refused address), the delivery is dead-lettered
(``status = 'dead'``). When the last delivery of a notice is final, the notice is marked
delivered or failed, and a donor notice's text (their name, a one-time code) and every e-mail
address and phone number are erased. Deliveries still pending after ``contact_retention_hours``
are dead-lettered and erased too.

If the process dies after a send and before the commit, that delivery is sent again (at least
once in that window); every message carries its stable delivery id (``Message-ID``,
``X-Sunshine-Delivery``) so a receiver can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notification.adapters.alert_tables import NOTICES_CHANNEL
from notification.adapters.listen import listen_forever
from notification.channels.base import Channel, DeliveryFailed, OutgoingMessage
from notification.metrics import NOTICE_DELIVERIES
from shared.aio import wait_event

log = logging.getLogger("sunshine.notification.delivery")

_CLAIM = text(
    """
    SELECT d.id, d.notice_id, d.channel, d.address, d.attempts,
           n.notice_key, n.kind, n.audience, n.subject, n.body, n.data, n.created_at,
           n.expires_at, a.status AS alert_status
    FROM notice_deliveries d JOIN notices n ON n.id = d.notice_id
    LEFT JOIN alerts a ON a.id = n.alert_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= :now
      AND d.channel = ANY(CAST(:channels AS text[]))
    ORDER BY d.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
    """
)
# A final delivery keeps no e-mail address or phone number (webhook URLs are configuration).
_MARK_SENT = text(
    """
    UPDATE notice_deliveries SET status = 'sent', sent_at = :now, attempts = attempts + 1,
        last_error = NULL, address = CASE WHEN channel = 'webhook' THEN address ELSE NULL END
    WHERE id = :id
    """
)
_MARK_RETRY = text(
    "UPDATE notice_deliveries SET attempts = attempts + 1, last_error = :error, "
    "next_attempt_at = :next WHERE id = :id"
)
_MARK_DEAD = text(
    """
    UPDATE notice_deliveries SET status = 'dead', dead_at = :now, attempts = attempts + :tried,
        last_error = :error, address = CASE WHEN channel = 'webhook' THEN address ELSE NULL END
    WHERE id = :id
    """
)
_EXPIRE_STALE = text(
    """
    UPDATE notice_deliveries SET status = 'dead', dead_at = :now,
        address = CASE WHEN channel = 'webhook' THEN address ELSE NULL END,
        last_error = 'contact retention window elapsed before delivery'
    WHERE status = 'pending' AND created_at < :cutoff
    RETURNING notice_id
    """
)
_FINISH_NOTICES = text(
    """
    UPDATE notices n SET
        status = CASE WHEN EXISTS (
            SELECT 1 FROM notice_deliveries d WHERE d.notice_id = n.id AND d.status = 'sent'
        ) THEN 'delivered' ELSE 'failed' END,
        completed_at = CAST(:now AS timestamptz),
        subject = CASE WHEN n.audience = 'donor' THEN NULL ELSE n.subject END,
        body = CASE WHEN n.audience = 'donor' THEN NULL ELSE n.body END,
        scrubbed_at = CASE WHEN n.audience = 'donor' THEN CAST(:now AS timestamptz) ELSE NULL END
    WHERE n.id = ANY(CAST(:ids AS uuid[])) AND n.status = 'pending' AND NOT EXISTS (
        SELECT 1 FROM notice_deliveries d WHERE d.notice_id = n.id AND d.status = 'pending'
    )
    """
)

_random = secrets.SystemRandom()


def backoff_delay(attempt: int, *, base_s: float, max_s: float, jitter: bool = True) -> float:
    """Delay before retry number ``attempt`` (1-based): base·2^(attempt-1), capped, ±20 %."""
    delay = min(base_s * 2 ** max(attempt - 1, 0), max_s)
    return float(delay * _random.uniform(0.8, 1.2)) if jitter else float(delay)


def _stale_alert_notice(kind: str, alert_status: str | None) -> str | None:
    """A staff notice whose news is already old: the alert cleared (or, for an escalation,
    someone took it up) before the notice could go out. Not sent; recorded as such."""
    if kind in ("alert_raised", "alert_escalated") and alert_status == "resolved":
        return "alert resolved before delivery"
    if kind == "alert_escalated" and alert_status == "acknowledged":
        return "alert acknowledged before delivery"
    return None


class DeliveryWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        dsn: str,
        channels: Mapping[str, Channel],
        max_attempts: int = 6,
        backoff_s: float = 5.0,
        backoff_max_s: float = 900.0,
        poll_interval_s: float = 1.0,
        batch_size: int = 20,
        retention: timedelta = timedelta(hours=48),
    ) -> None:
        self._engine = engine
        self._dsn = dsn
        self._channels = dict(channels)
        self._max_attempts = max_attempts
        self._backoff = backoff_s
        self._backoff_max = backoff_max_s
        self._poll = poll_interval_s
        self._batch = batch_size
        self._retention = retention
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen_forever(), name="notice-delivery-listen")
        rounds = 0
        try:
            while True:
                try:
                    if rounds % 20 == 0:
                        await self.expire_stale()
                    rounds += 1
                    handled = await self.deliver_due()
                except Exception as exc:  # noqa: BLE001 - the worker never dies; it backs off
                    log.warning("delivery round failed: %s", exc)
                    handled = 0
                    await asyncio.sleep(min(self._poll * 2, 5))
                if handled >= self._batch:
                    continue
                self._wake.clear()
                await wait_event(self._wake, self._poll)
        except asyncio.CancelledError:
            await self.aclose()  # shutting down: release the channels' connections
            raise
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    def wake(self) -> None:
        self._wake.set()

    async def _listen_forever(self) -> None:
        await listen_forever(self._dsn, NOTICES_CHANNEL, self._wake.set)

    async def deliver_due(self) -> int:
        """Send one batch of due deliveries. Returns how many were handled."""
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    _CLAIM,
                    {"now": now, "limit": self._batch, "channels": sorted(self._channels)},
                )
            ).all()
            if not rows:
                return 0
            outcomes = await asyncio.gather(*(self._attempt(row, now) for row in rows))
            done = datetime.now(UTC)
            for row, (outcome, error) in zip(rows, outcomes, strict=True):
                await self._record(conn, row, outcome, error, done)
            await self._finish(conn, [row.notice_id for row in rows], done)
        return len(rows)

    async def _attempt(self, row: Row[Any], now: datetime) -> tuple[str, str | None]:
        if row.expires_at is not None and row.expires_at <= now:
            return "expired", "expired before it could be delivered"
        stale = _stale_alert_notice(row.kind, row.alert_status)
        if stale:
            return "expired", stale
        channel = self._channels[row.channel]  # only rows of our channels are claimed
        message = OutgoingMessage(
            delivery_id=row.id,
            notice_id=row.notice_id,
            notice_key=row.notice_key,
            kind=row.kind,
            audience=row.audience,
            address=row.address,
            subject=row.subject or "",
            body=row.body or "",
            created_at=row.created_at,
            data=dict(row.data or {}),
        )
        try:
            await channel.send(message)
        except DeliveryFailed as exc:
            return self._failed(row, str(exc), permanent=exc.permanent)
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the worker
            return self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
        return "sent", None

    def _failed(self, row: Row[Any], error: str, *, permanent: bool) -> tuple[str, str | None]:
        if permanent or row.attempts + 1 >= self._max_attempts:
            return "dead", error
        return "retry", error

    async def _record(
        self, conn: AsyncConnection, row: Row[Any], outcome: str, error: str | None, now: datetime
    ) -> None:
        NOTICE_DELIVERIES.labels(row.channel, outcome).inc()
        if outcome == "sent":
            await conn.execute(_MARK_SENT, {"id": row.id, "now": now})
        elif outcome == "retry":
            delay = backoff_delay(row.attempts + 1, base_s=self._backoff, max_s=self._backoff_max)
            await conn.execute(
                _MARK_RETRY,
                {
                    "id": row.id,
                    "error": (error or "")[:2000],
                    "next": now + timedelta(seconds=delay),
                },
            )
            log.info(
                "delivery %s on %s failed, retry in %.1fs: %s", row.id, row.channel, delay, error
            )
        else:
            tried = 0 if outcome == "expired" else 1
            await conn.execute(
                _MARK_DEAD,
                {"id": row.id, "now": now, "tried": tried, "error": (error or "")[:2000]},
            )
            log.warning("delivery %s on %s dead-lettered: %s", row.id, row.channel, error)

    async def _finish(
        self, conn: AsyncConnection, notice_ids: Sequence[uuid.UUID], now: datetime
    ) -> None:
        await conn.execute(_FINISH_NOTICES, {"ids": list(set(notice_ids)), "now": now})

    async def expire_stale(self) -> int:
        """Dead-letter (and erase) deliveries older than the contact retention window."""
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            ids = (
                (await conn.execute(_EXPIRE_STALE, {"now": now, "cutoff": now - self._retention}))
                .scalars()
                .all()
            )
            if ids:
                await self._finish(conn, list(ids), now)
        return len(ids)

    async def aclose(self) -> None:
        for channel in self._channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()
