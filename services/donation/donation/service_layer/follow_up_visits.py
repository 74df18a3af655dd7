"""Follow-up visits (回访) as a plan (issue 17, docs/donation.md#follow-up-visits).

Visits are planned by the rule of the project's category (``domain.follow_up_plan``):

- when a disbursement is approved, in the approval's transaction: one set of visits per
  recipient it names (``disbursement_recipients``), or one set when it names none; the day
  counted from is the later of its ``disbursed_on`` and the day it was approved (money is not
  handed out before approval);
- when the warehouse reports a dispatch of a project delivered (``DispatchDeliveredV1``, in
  the consumer's inbox transaction): one set per recipient the dispatch names, counted from the
  day of delivery. A transfer between our warehouses, or a dispatch of no project, plans none.

Planning is idempotent: a visit is unique per (trigger, disbursement or dispatch, recipient,
seq), so a replayed event or a second call plans nothing new. Days are Asia/Shanghai days.

A visit is done once, with an outcome (a ``follow_ups`` row and its FollowUpRecordedV1 go with
it, so the public feed shows the visit, without its notes or whom it visited); photos are
attached to it, stored outside the database (``adapters.attachments``). Open visits of a
disbursement that is reversed are cancelled with it (a correction's replacement plans its own).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from donation.adapters.attachments import SHA256_PATTERN, AttachmentDamaged, AttachmentStore
from donation.adapters.orm import (
    DisbursementRecipient,
    FollowUp,
    FollowUpVisit,
    Project,
    Recipient,
    VisitPhoto,
)
from donation.domain.follow_up_plan import (
    FollowUpRule,
    RecordVisitOutcome,
    Trigger,
    VisitState,
    VisitSummary,
    plan,
    public_summary,
    summarise,
    visit_state,
)
from donation.service_layer.common import audit, check_version, local_date, lock_row, now
from donation.service_layer.follow_ups import stage_follow_up
from shared.contracts.warehouse import DispatchDeliveredV1
from shared.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.messaging.consumer import EventHandler
from shared.messaging.envelope import CloudEvent
from shared.organisations import reaches
from shared.uow import SqlUnitOfWork

log = logging.getLogger("sunshine.donation.follow_up_visits")

PHOTOS_PER_VISIT = 20
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def today() -> date:
    """Today in Asia/Shanghai: the day visits are due, overdue or may be recorded on."""
    return local_date(now())


# --- planning ------------------------------------------------------------------------------


def _each_or_none(recipient_ids: Sequence[uuid.UUID]) -> list[uuid.UUID | None]:
    """One set of visits per recipient named, or one set without a recipient."""
    return [*recipient_ids] if recipient_ids else [None]


async def _plan(
    session: AsyncSession,
    *,
    project: Project,
    trigger: Trigger,
    happened_on: date,
    rules: Sequence[FollowUpRule],
    recipient_ids: Sequence[uuid.UUID],
    town: str | None,
    disbursement_id: uuid.UUID | None = None,
    dispatch_id: uuid.UUID | None = None,
    dispatch_no: str | None = None,
) -> int:
    planned = plan(rules, project.category, trigger, happened_on)
    if not planned:
        return 0
    at = now()
    rows = [
        {
            "id": uuid7(),
            "project_code": project.code,
            "category": project.category,
            "trigger": trigger,
            "disbursement_id": disbursement_id,
            "dispatch_id": dispatch_id,
            "dispatch_no": dispatch_no,
            "recipient_id": recipient_id,
            "seq": visit.seq,
            "of_visits": visit.of_visits,
            "triggered_on": happened_on,
            "due_on": visit.due_on,
            "grace_days": visit.grace_days,
            "town": town,
            "created_at": at,
            "version": 1,
        }
        for recipient_id in _each_or_none(recipient_ids)
        for visit in planned
    ]
    inserted = await session.execute(
        pg_insert(FollowUpVisit)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(col(FollowUpVisit.id))
    )
    return len(inserted.all())


async def plan_after_approval(
    session: AsyncSession,
    *,
    project: Project,
    disbursement_id: uuid.UUID,
    disbursed_on: date,
    approved_at: datetime,
    town: str | None,
    rules: Sequence[FollowUpRule],
) -> int:
    """Plan the visits an approved disbursement makes due; how many were new."""
    recipient_ids = list(
        await session.scalars(
            select(col(DisbursementRecipient.recipient_id))
            .where(col(DisbursementRecipient.disbursement_id) == disbursement_id)
            .order_by(col(DisbursementRecipient.recipient_id))
        )
    )
    return await _plan(
        session,
        project=project,
        trigger="disbursement",
        happened_on=max(disbursed_on, local_date(approved_at)),
        rules=rules,
        recipient_ids=recipient_ids,
        town=town,
        disbursement_id=disbursement_id,
    )


async def plan_after_delivery(
    session: AsyncSession, delivered: DispatchDeliveredV1, rules: Sequence[FollowUpRule]
) -> int:
    """Plan the visits a delivered dispatch of a project makes due; how many were new."""
    if delivered.kind == "transfer" or delivered.project_code is None:
        return 0
    project = await session.get(Project, delivered.project_code)
    if project is None:
        log.warning(
            "delivered dispatch of an unknown project: no visits planned",
            extra={"dispatch_id": str(delivered.dispatch_id), "project": delivered.project_code},
        )
        return 0
    named = list(dict.fromkeys(delivered.recipient_ids))
    known = set(
        await session.scalars(select(col(Recipient.id)).where(col(Recipient.id).in_(named)))
        if named
        else []
    )
    return await _plan(
        session,
        project=project,
        trigger="delivery",
        happened_on=local_date(delivered.delivered_at),
        rules=rules,
        recipient_ids=sorted(r for r in named if r in known),
        town=delivered.destination.town,
        dispatch_id=delivered.dispatch_id,
        dispatch_no=delivered.dispatch_no,
    )


async def cancel_open_visits(
    session: AsyncSession, disbursement_id: uuid.UUID, *, reason: str
) -> int:
    """The visits of a reversed disbursement not made yet are no longer owed."""
    at = now()
    result = await session.execute(
        update(FollowUpVisit)
        .where(
            col(FollowUpVisit.disbursement_id) == disbursement_id,
            col(FollowUpVisit.done_on).is_(None),
            col(FollowUpVisit.cancelled_at).is_(None),
        )
        .values(
            cancelled_at=at,
            cancel_reason=reason[:200],
            updated_at=at,
            version=col(FollowUpVisit.version) + 1,
        )
        .returning(col(FollowUpVisit.id))
    )
    return len(result.all())


# --- one visit -----------------------------------------------------------------------------


async def _reachable_visit(
    uow: SqlUnitOfWork, visit_id: uuid.UUID, actor_org: str, *, lock: bool
) -> FollowUpVisit:
    missing = f"回访计划不存在 (follow-up visit {visit_id} not found)"
    if lock:
        visit = await lock_row(uow, FollowUpVisit, visit_id, missing)
    else:
        found = await uow.session.get(FollowUpVisit, visit_id)
        if found is None:
            raise NotFound(missing)
        visit = found
    org = await uow.session.scalar(
        select(col(Project.org_code)).where(col(Project.code) == visit.project_code)
    )
    if org is None or not reaches(actor_org, org):
        raise Forbidden(
            f"该回访属于其他机构的项目 (the visit belongs to a project of organisation {org})"
        )
    return visit


async def get_visit(uow: SqlUnitOfWork, visit_id: uuid.UUID, actor_org: str) -> FollowUpVisit:
    return await _reachable_visit(uow, visit_id, actor_org, lock=False)


def _check_outcome(cmd: RecordVisitOutcome, visit: FollowUpVisit, today: date) -> None:
    if cmd.visited_on > today:
        raise ValidationFailed(
            f"回访日期不能晚于今天 {today} (visited_on {cmd.visited_on} is in the future)",
            details={"field": "visited_on"},
        )
    if cmd.visited_on < visit.triggered_on:
        what = "拨付" if visit.trigger == "disbursement" else "送达"
        raise ValidationFailed(
            f"回访日期不能早于{what}日期 {visit.triggered_on} (visited_on {cmd.visited_on} is "
            f"before the {visit.trigger} it follows, {visit.triggered_on})",
            details={"field": "visited_on"},
        )
    if cmd.outcome == "reached" and cmd.satisfaction is None:
        raise ValidationFailed(
            "已回访须填写满意度 1–5 (satisfaction 1–5 is required when the recipient was reached)",
            details={"field": "satisfaction"},
        )
    if cmd.outcome != "reached" and cmd.satisfaction is not None:
        raise ValidationFailed(
            "未见到受助对象时不能填写满意度 (satisfaction only when the recipient was reached; "
            f"outcome is {cmd.outcome})",
            details={"field": "satisfaction"},
        )


async def record_outcome(
    uow: SqlUnitOfWork, cmd: RecordVisitOutcome, *, today: date
) -> FollowUpVisit:
    """The visit was made: its outcome, and a follow-up row with its public event. Once."""
    visit = await _reachable_visit(uow, cmd.visit_id, cmd.actor_org, lock=True)
    if visit.done_on is not None:
        raise Conflict(
            f"该回访已于 {visit.done_on} 登记 (this visit was recorded already, on "
            f"{visit.done_on}, by {visit.recorded_by})",
            details={"done_on": visit.done_on.isoformat(), "follow_up_id": str(visit.follow_up_id)},
        )
    if visit.cancelled_at is not None:
        raise Conflict(
            f"该回访已取消：{visit.cancel_reason} "
            f"(this visit was cancelled: {visit.cancel_reason})",
            details={"cancelled_at": visit.cancelled_at.isoformat()},
        )
    check_version(visit.version, cmd.expected_version)
    _check_outcome(cmd, visit, today)
    at = now()
    follow_up = FollowUp(
        id=uuid7(),
        disbursement_id=visit.disbursement_id,
        dispatch_id=visit.dispatch_id,
        project_code=visit.project_code,
        visited_on=cmd.visited_on,
        summary=public_summary(visit.seq, visit.of_visits, cmd.outcome, cmd.satisfaction),
        town=visit.town,
        visitor=cmd.visitor,
        created_at=at,
        created_by=cmd.actor,
    )
    await stage_follow_up(uow, follow_up)
    visit.done_on = cmd.visited_on
    visit.outcome = cmd.outcome
    visit.satisfaction = cmd.satisfaction
    visit.notes = cmd.notes
    visit.visitor = cmd.visitor
    visit.follow_up_id = follow_up.id
    visit.recorded_by = cmd.actor
    visit.recorded_at = at
    visit.updated_at = at
    visit.version += 1
    audit(
        uow.session,
        actor=cmd.actor,
        action="follow_up_visit.record",
        entity="follow_up_visit",
        entity_id=str(visit.id),
        before={"state": "open"},
        after={
            "done_on": cmd.visited_on,
            "outcome": cmd.outcome,
            "satisfaction": cmd.satisfaction,
            "follow_up_id": follow_up.id,
        },
    )
    await uow.session.flush()
    return visit


# --- photos --------------------------------------------------------------------------------


def check_photo(content_type: str, data: bytes) -> None:
    """The body is the image its Content-Type says (magic bytes), else a 422 saying what."""
    if not data:
        raise ValidationFailed("照片为空 (the photo is empty)", details={"field": "body"})
    if not data.startswith(PHOTO_TYPES[content_type]):
        found = next((t for t, magic in PHOTO_TYPES.items() if data.startswith(magic)), None)
        said = f" (it is {found})" if found else ""
        raise ValidationFailed(
            f"照片内容与类型 {content_type} 不符 (the body is not a {content_type} image{said}; "
            "send a JPEG or PNG with its own Content-Type)",
            details={"field": "body", "content_type": content_type, "detected": found},
        )


@dataclass(frozen=True)
class StoredPhoto:
    photo: VisitPhoto
    created: bool  # False: this visit had the same photo already


async def add_photo(
    uow: SqlUnitOfWork,
    store: AttachmentStore,
    *,
    visit_id: uuid.UUID,
    actor: str,
    actor_org: str,
    content_type: str,
    data: bytes,
) -> StoredPhoto:
    """Attach a photo to a visit: the file first (content-addressed, so a retry or a rolled
    back transaction leaves at most a file that the next upload of it reuses), then its row."""
    check_photo(content_type, data)
    visit = await _reachable_visit(uow, visit_id, actor_org, lock=True)
    if visit.cancelled_at is not None:
        raise Conflict(
            "该回访已取消，不能上传照片 (the visit was cancelled: no photos)",
            details={"cancelled_at": visit.cancelled_at.isoformat()},
        )
    sha256, _ = await store.put(data)
    existing = await uow.session.get(VisitPhoto, (visit.id, sha256))
    if existing is not None:
        return StoredPhoto(existing, created=False)
    count = await uow.session.scalar(
        select(func.count()).select_from(VisitPhoto).where(col(VisitPhoto.visit_id) == visit.id)
    )
    if (count or 0) >= PHOTOS_PER_VISIT:
        raise Conflict(
            f"每次回访最多 {PHOTOS_PER_VISIT} 张照片 (at most {PHOTOS_PER_VISIT} photos a visit)",
            details={"photos": count},
        )
    photo = VisitPhoto(
        visit_id=visit.id,
        sha256=sha256,
        content_type=content_type,
        size_bytes=len(data),
        uploaded_by=actor,
        uploaded_at=now(),
    )
    uow.session.add(photo)
    audit(
        uow.session,
        actor=actor,
        action="follow_up_visit.photo",
        entity="follow_up_visit",
        entity_id=str(visit.id),
        after={"sha256": sha256, "content_type": content_type, "size_bytes": len(data)},
    )
    await uow.session.flush()
    return StoredPhoto(photo, created=True)


async def read_photo(
    uow: SqlUnitOfWork,
    store: AttachmentStore,
    *,
    visit_id: uuid.UUID,
    sha256: str,
    actor_org: str,
) -> tuple[VisitPhoto, bytes]:
    """A visit's photo and its bytes, checked against their SHA-256: a damaged or lost file
    is a 410 that says so (logged and counted by the store), never served."""
    visit = await _reachable_visit(uow, visit_id, actor_org, lock=False)
    photo = await uow.session.get(VisitPhoto, (visit.id, sha256))
    if photo is None:
        raise NotFound(f"该回访没有这张照片 (visit {visit_id} has no photo {sha256})")
    try:
        data = await store.get(sha256)
    except AttachmentDamaged as exc:
        what = "已丢失" if exc.reason == "missing" else "已损坏（内容与其 SHA-256 不符）"
        raise Gone(
            f"照片文件{what}，请重新上传 (the stored photo is "
            f"{'missing' if exc.reason == 'missing' else 'damaged: its bytes no longer match'}"
            f" its SHA-256 {sha256}; upload it again)",
            details={"sha256": sha256, "reason": exc.reason},
        ) from exc
    return photo, data


# --- the evaluation's figures --------------------------------------------------------------


def state_of(visit: FollowUpVisit, as_of: date) -> VisitState | None:
    """The plan's state of a visit (``None``: cancelled, not owed)."""
    if visit.cancelled_at is not None:
        return None
    return visit_state(visit.due_on, visit.grace_days, visit.done_on, as_of)


async def project_summary(
    uow: SqlUnitOfWork, project_code: str, *, due_from: date, due_to: date, today: date
) -> VisitSummary:
    """A project's visits that fell due in [``due_from``, ``due_to``) (cancelled ones left
    out): how many are still due, on time, late, overdue as of ``today``, the on-time share of
    those owed, and the average satisfaction of those that reached the recipient."""
    rows = list(
        await uow.session.scalars(
            select(FollowUpVisit).where(
                col(FollowUpVisit.project_code) == project_code,
                col(FollowUpVisit.due_on) >= due_from,
                col(FollowUpVisit.due_on) < due_to,
                col(FollowUpVisit.cancelled_at).is_(None),
            )
        )
    )
    states: list[tuple[VisitState, int | None]] = []
    for visit in rows:
        state = state_of(visit, today)
        assert state is not None
        states.append((state, visit.satisfaction))
    return summarise(states)


def and_plan_visits(handler: EventHandler, rules: Sequence[FollowUpRule]) -> EventHandler:
    """The consumer's ``dispatch.delivered`` handler, then the visits the delivery makes due
    (in the same inbox transaction)."""

    async def on_dispatch_delivered(session: AsyncSession, event: CloudEvent) -> None:
        await handler(session, event)
        await plan_after_delivery(session, DispatchDeliveredV1.model_validate(event.data), rules)

    return on_dispatch_delivered


# what the routes use of the photo store (routes do not import adapters)
PhotoStore = AttachmentStore
PHOTO_HASH_PATTERN = SHA256_PATTERN
