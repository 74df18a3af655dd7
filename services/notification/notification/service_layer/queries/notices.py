"""Reads of notices and their deliveries (auditors): what was sent, what is waiting, what was
dead-lettered. Never a donor's contact details or a donor notice's text."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select

from notification.adapters.alert_tables import deliveries, notices
from notification.entrypoints.api.schemas import (
    AudienceFilter,
    DeliveryOut,
    DeliveryStatusFilter,
    NoticeOut,
    NoticePage,
    NoticeStatusFilter,
)
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class NoticeFilters:
    """The list's filters; ``None`` filters nothing. ``delivery_status``: only notices with a
    delivery in that state (``dead`` = dead letters)."""

    status: NoticeStatusFilter | None = None
    audience: AudienceFilter | None = None
    kind: str | None = None
    delivery_status: DeliveryStatusFilter | None = None


def delivery_out(row: Any) -> DeliveryOut:
    """A delivery; its address only for a webhook (configuration, not a donor's contact)."""
    return DeliveryOut(
        id=row.id,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        dead_at=row.dead_at,
        webhook_url=row.address if row.channel == "webhook" else None,
    )


def notice_out(row: Any, rows: list[Any]) -> NoticeOut:
    """A notice with its deliveries ``rows``."""
    return NoticeOut(
        id=row.id,
        notice_key=row.notice_key,
        audience=row.audience,
        kind=row.kind,
        status=row.status,
        subject=row.subject if row.audience == "staff" else None,  # a donor's text stays private
        alert_id=row.alert_id,
        donation_id=row.donation_id,
        created_at=row.created_at,
        completed_at=row.completed_at,
        scrubbed_at=row.scrubbed_at,
        deliveries=[delivery_out(d) for d in rows],
    )


def notices_query(filters: NoticeFilters, *, limit: int, cursor: str | None) -> Select[Any]:
    """Notices newest first (by creation, then id), after ``cursor``, one more than ``limit``
    (to tell whether a next page exists); a malformed cursor is a ``422``."""
    query = select(notices)
    if filters.status is not None:
        query = query.where(notices.c.status == filters.status)
    if filters.audience is not None:
        query = query.where(notices.c.audience == filters.audience)
    if filters.kind is not None:
        query = query.where(notices.c.kind == filters.kind)
    if filters.delivery_status is not None:
        query = query.where(
            exists().where(
                deliveries.c.notice_id == notices.c.id,
                deliveries.c.status == filters.delivery_status,
            )
        )
    if cursor is not None:
        at, last_id = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(notices.c.created_at < at, and_(notices.c.created_at == at, notices.c.id < last_id))
        )
    return query.order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(limit + 1)


async def notice_page(
    runtime: ServiceRuntime, filters: NoticeFilters, *, limit: int, cursor: str | None
) -> NoticePage:
    """One page of notices with their deliveries (oldest first), and the next page's cursor."""
    query = notices_query(filters, limit=limit, cursor=cursor)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
        page = rows[:limit]
        by_notice: dict[uuid.UUID, list[Any]] = {r.id: [] for r in page}
        if by_notice:
            for d in await session.execute(
                select(deliveries)
                .where(deliveries.c.notice_id.in_(list(by_notice)))
                .order_by(deliveries.c.created_at, deliveries.c.id)
            ):
                by_notice[d.notice_id].append(d)
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.created_at.isoformat(), str(last.id))
    return NoticePage(items=[notice_out(r, by_notice[r.id]) for r in page], next_cursor=next_cursor)


async def delivery_body(uow: SqlUnitOfWork, delivery_id: uuid.UUID) -> dict[str, Any]:
    """One delivery as the API answers it, read in ``uow`` (after a change to it)."""
    query = select(deliveries).where(deliveries.c.id == delivery_id)
    row = (await uow.session.execute(query)).one()
    return delivery_out(row).model_dump(mode="json")
