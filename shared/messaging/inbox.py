"""The inbox: remembers which events a consumer has applied, so redelivery has no effect."""

from __future__ import annotations

from collections.abc import Sequence

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


_CLAIM_MANY = text(
    "INSERT INTO inbox (event_id, consumer, type) "
    "SELECT e, :consumer, t FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[])) "
    "AS u(e, t) ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim_many(
    session: AsyncSession, *, consumer: str, events: Sequence[tuple[str, str]]
) -> set[str]:
    """Record a batch of ``(event_id, type)`` in one statement; the ids claimed now (an id
    missing from the answer was applied before, or is repeated in the batch: claimed once)."""
    unique = dict(events)  # one row per id; a repeated id keeps one type (it is one event)
    if not unique:
        return set()
    result = await session.execute(
        _CLAIM_MANY, {"consumer": consumer, "ids": list(unique), "types": list(unique.values())}
    )
    return {str(row[0]) for row in result}
