"""What every handler works through: a session and a place to stage events.

:class:`shared.uow.SqlUnitOfWork` satisfies :class:`Tx`; a Kafka consumer handler that needs
to publish would wrap its session in an object with the same two members and write the staged
events with ``shared.messaging.outbox.write_outbox`` inside its own transaction.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession


class Tx(Protocol):
    session: AsyncSession

    def publish(
        self, *, topic: str, key: str, type: str, payload: BaseModel, subject: str | None = None
    ) -> None: ...
