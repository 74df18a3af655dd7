"""Unit of work: one database transaction for business rows and the events they cause."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.outbox import PendingEvent, pending_event, write_outbox


class SqlUnitOfWork:
    """``async with uow: ...; await uow.commit()``; leaving without commit rolls back."""

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        source: str,
        topic_prefix: str = "",
    ) -> None:
        self._session_factory = session_factory
        self.source = source
        self.topic_prefix = topic_prefix
        self._events: list[PendingEvent] = []

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    def publish(
        self, *, topic: str, key: str, type: str, payload: BaseModel, subject: str | None = None
    ) -> None:
        """Stage an integration event; it is written to the outbox by :meth:`commit`."""
        self._events.append(
            pending_event(
                topic=self.topic_prefix + topic,
                key=key,
                type=type,
                source=self.source,
                payload=payload,
                subject=subject,
            )
        )

    @property
    def staged_events(self) -> list[PendingEvent]:
        return list(self._events)

    async def flush(self) -> None:
        await self.session.flush()

    async def commit(self) -> None:
        await write_outbox(self.session, self._events)
        await self.session.commit()
        self._events = []

    async def rollback(self) -> None:
        self._events = []
        await self.session.rollback()
