"""Writing integration events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.ids import uuid7
from shared.messaging.tables import NOTIFY_CHANNEL, outbox
from shared.messaging.tracing import current_traceparent


@dataclass(frozen=True)
class PendingEvent:
    """An integration event staged by a handler, written at commit."""

    id: uuid.UUID
    topic: str
    key: str
    type: str
    source: str
    subject: str | None
    time: datetime
    payload: dict[str, Any]
    traceparent: str | None


def pending_event(
    *,
    topic: str,
    key: str,
    type: str,
    source: str,
    payload: BaseModel,
    subject: str | None = None,
) -> PendingEvent:
    return PendingEvent(
        id=uuid7(),
        topic=topic,
        key=key,
        type=type,
        source=source,
        subject=subject,
        time=datetime.now(UTC),
        payload=payload.model_dump(mode="json"),
        traceparent=current_traceparent(),
    )


async def write_outbox(session: AsyncSession, events: list[PendingEvent]) -> None:
    """Insert the events and wake the relay; both take effect only if the transaction commits."""
    if not events:
        return
    rows = [
        {
            "id": e.id,
            "topic": e.topic,
            "key": e.key,
            "type": e.type,
            "source": e.source,
            "subject": e.subject,
            "time": e.time,
            "payload": e.payload,
            "traceparent": e.traceparent,
        }
        for e in events
    ]
    # One statement, one round trip: the rows as a multi-row VALUES in a data-modifying CTE,
    # and pg_notify (delivered at commit, like NOTIFY) in its main query.
    written = insert(outbox).values(rows).cte("written")
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")).add_cte(written))
