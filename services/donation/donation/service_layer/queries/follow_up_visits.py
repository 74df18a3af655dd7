"""Reading planned follow-up visits: the due list (ordered by due date), and one visit, each
with the plan's state as of a day and its photos."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, select

from donation.adapters.orm import FollowUpVisit, Project, Recipient, VisitPhoto
from donation.entrypoints.api.follow_up_visit_schemas import (
    FollowUpVisitOut,
    FollowUpVisitPage,
    VisitListState,
    VisitPhotoOut,
)
from donation.service_layer.follow_up_visits import state_of
from shared.errors import Forbidden
from shared.organisations import DISTRICT
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork

_SELECT = (
    select(FollowUpVisit, col(Project.name), col(Project.org_code), col(Recipient.name_masked))
    .join(Project, col(Project.code) == col(FollowUpVisit.project_code))
    .outerjoin(Recipient, col(Recipient.id) == col(FollowUpVisit.recipient_id))
)


async def _photos(uow: SqlUnitOfWork, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[VisitPhotoOut]]:
    found: dict[uuid.UUID, list[VisitPhotoOut]] = defaultdict(list)
    if not ids:
        return found
    for photo in await uow.session.scalars(
        select(VisitPhoto)
        .where(col(VisitPhoto.visit_id).in_(ids))
        .order_by(col(VisitPhoto.uploaded_at), col(VisitPhoto.sha256))
    ):
        found[photo.visit_id].append(VisitPhotoOut.model_validate(photo, from_attributes=True))
    return found


def _out(
    visit: FollowUpVisit,
    project_name: str,
    org_code: str,
    recipient: str | None,
    photos: list[VisitPhotoOut],
    as_of: date,
) -> FollowUpVisitOut:
    return FollowUpVisitOut.model_validate(
        {
            **visit.model_dump(),
            "project_name": project_name,
            "org_code": org_code,
            "recipient_name_masked": recipient,
            "last_day": visit.due_on + timedelta(days=visit.grace_days),
            "state": state_of(visit, as_of) or "cancelled",
            "photos": photos,
        }
    )


async def visit_body(uow: SqlUnitOfWork, visit_id: uuid.UUID, as_of: date) -> dict[str, Any]:
    """One visit as ``FollowUpVisitOut`` JSON (the caller checked it exists and is in reach)."""
    row = (await uow.session.execute(_SELECT.where(col(FollowUpVisit.id) == visit_id))).one()
    visit, name, org, recipient = row
    photos = await _photos(uow, [visit.id])
    return _out(visit, name, org, recipient, photos[visit.id], as_of).model_dump(mode="json")


async def list_visits(
    uow: SqlUnitOfWork,
    *,
    actor_org: str,
    as_of: date,
    state: VisitListState,
    project_code: str | None,
    org: str | None,
    due_before: date | None,
    limit: int,
    cursor: str | None,
) -> FollowUpVisitPage:
    """A page of visits, earliest due first. A town branch's staff see only their own
    organisation's projects (naming another organisation is a 403); ``due_before`` is
    exclusive; ``due`` and ``overdue`` are the open visits before and after their last day."""
    if actor_org != DISTRICT and org not in (None, actor_org):
        raise Forbidden(
            f"只能查看本机构的回访 (your organisation is {actor_org}; you asked for {org})"
        )
    scope = org if actor_org == DISTRICT else actor_org
    query = _SELECT
    if scope is not None:
        query = query.where(col(Project.org_code) == scope)
    if project_code:
        query = query.where(col(FollowUpVisit.project_code) == project_code)
    if due_before:
        query = query.where(col(FollowUpVisit.due_on) < due_before)
    is_open = (col(FollowUpVisit.done_on).is_(None), col(FollowUpVisit.cancelled_at).is_(None))
    last_day = col(FollowUpVisit.due_on) + col(FollowUpVisit.grace_days)
    if state == "open":
        query = query.where(*is_open)
    elif state == "due":
        query = query.where(*is_open, last_day >= as_of)
    elif state == "overdue":
        query = query.where(*is_open, last_day < as_of)
    elif state == "done":
        query = query.where(col(FollowUpVisit.done_on).is_not(None))
    elif state == "cancelled":
        query = query.where(col(FollowUpVisit.cancelled_at).is_not(None))
    if cursor is not None:
        last_due, last_id = decode_cursor(cursor, 2, date.fromisoformat, uuid.UUID)
        query = query.where(
            tuple_(col(FollowUpVisit.due_on), col(FollowUpVisit.id)) > tuple_(last_due, last_id)
        )
    query = query.order_by(col(FollowUpVisit.due_on), col(FollowUpVisit.id)).limit(limit + 1)
    rows = (await uow.session.execute(query)).all()
    page = rows[:limit]
    photos = await _photos(uow, [r[0].id for r in page])
    items = [_out(v, name, o, rec, photos[v.id], as_of) for v, name, o, rec in page]
    last = page[-1][0] if page else None
    return FollowUpVisitPage(
        as_of=as_of,
        items=items,
        next_cursor=encode_cursor(last.due_on.isoformat(), str(last.id))
        if last is not None and len(rows) > limit
        else None,
    )
