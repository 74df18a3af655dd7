"""What every handler works through: a session and a place to stage events.

Both the HTTP unit of work (:class:`shared.uow.SqlUnitOfWork`) and :class:`HandlerTx` (used
inside Kafka consumer handlers, which only get a session) satisfy :class:`Tx`.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.outbox import PendingEvent, pending_event, write_outbox

SOURCE = "/sunshine/warehouse"


class Tx(Protocol):
    session: AsyncSession

    def publish(
        self, *, topic: str, key: str, type: str, payload: BaseModel, subject: str | None = None
    ) -> None: ...


class HandlerTx:
    """Stages events inside a consumer handler's transaction; :meth:`flush` writes the outbox."""

    def __init__(self, session: AsyncSession, *, topic_prefix: str) -> None:
        self.session = session
        self.topic_prefix = topic_prefix
        self.events: list[PendingEvent] = []

    def publish(
        self, *, topic: str, key: str, type: str, payload: BaseModel, subject: str | None = None
    ) -> None:
        self.events.append(
            pending_event(
                topic=self.topic_prefix + topic,
                key=key,
                type=type,
                source=SOURCE,
                payload=payload,
                subject=subject,
            )
        )

    async def flush(self) -> None:
        await write_outbox(self.session, self.events)
        self.events = []
