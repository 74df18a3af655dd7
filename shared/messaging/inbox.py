"""The inbox: remembers which events a consumer has applied, so redelivery has no effect."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CLAIM = text(
    "INSERT INTO inbox (event_id, consumer, type) VALUES (:event_id, :consumer, :type) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim(session: AsyncSession, *, event_id: str, consumer: str, type: str) -> bool:
    """Record the event for this consumer; False if it was applied before (skip it)."""
    result = await session.execute(
        _CLAIM, {"event_id": event_id, "consumer": consumer, "type": type}
    )
    return result.scalar_one_or_none() is not None
