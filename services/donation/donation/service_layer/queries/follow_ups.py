"""Reading follow-ups: one as recorded, and pages of them (newest first), filtered."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlmodel import col, select

from donation.adapters.orm import FollowUp
from donation.entrypoints.api.schemas import FollowUpOut, FollowUpPage
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork


def follow_up_body(follow_up: FollowUp) -> dict[str, Any]:
    """A follow-up as ``FollowUpOut`` JSON."""
    return FollowUpOut.model_validate(follow_up, from_attributes=True).model_dump(mode="json")


async def list_follow_ups(
    uow: SqlUnitOfWork,
    *,
    limit: int,
    cursor: str | None,
    disbursement_id: uuid.UUID | None,
    donation_id: uuid.UUID | None,
    project_code: str | None,
    visited_from: date | None,
    visited_to: date | None,
) -> FollowUpPage:
    """A page of follow-ups, newest first; ``visited_to`` is exclusive."""
    query = select(FollowUp)
    if disbursement_id:
        query = query.where(col(FollowUp.disbursement_id) == disbursement_id)
    if donation_id:
        query = query.where(col(FollowUp.donation_id) == donation_id)
    if project_code:
        query = query.where(col(FollowUp.project_code) == project_code)
    if visited_from:
        query = query.where(col(FollowUp.visited_on) >= visited_from)
    if visited_to:
        query = query.where(col(FollowUp.visited_on) < visited_to)
    if cursor is not None:
        (last_raw,) = decode_cursor(cursor, 1)
        try:
            last = uuid.UUID(str(last_raw))
        except ValueError as exc:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from exc
        query = query.where(col(FollowUp.id) < last)
    query = query.order_by(col(FollowUp.id).desc()).limit(limit + 1)
    rows = list(await uow.session.scalars(query))
    page = rows[:limit]
    return FollowUpPage(
        items=[FollowUpOut.model_validate(f, from_attributes=True) for f in page],
        next_cursor=encode_cursor(str(page[-1].id)) if len(rows) > limit else None,
    )
