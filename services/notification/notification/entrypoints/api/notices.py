"""``/api/v1/notices``: what was sent, what is waiting, what was dead-lettered (staff).

Never shows a donor's contact details or a donor notice's text; a dead webhook delivery (whose
URL is configuration, kept) can be queued again by an admin.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import and_, exists, or_, select, update

from notification.adapters.alert_tables import deliveries, notices
from notification.entrypoints.api.alerts import IdempotencyKey, RuntimeDep
from notification.service_layer.notices import wake_delivery
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.idempotency import run_idempotent
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])

Reader = require_roles(Role.AUDITOR)
Admin = require_roles(Role.ADMIN)


class DeliveryOut(BaseModel):
    id: uuid.UUID
    channel: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None
    webhook_url: str | None = None


class NoticeOut(BaseModel):
    id: uuid.UUID
    notice_key: str
    audience: str
    kind: str
    status: str
    subject: str | None
    alert_id: uuid.UUID | None
    donation_id: uuid.UUID | None
    created_at: datetime
    completed_at: datetime | None
    scrubbed_at: datetime | None
    deliveries: list[DeliveryOut]


class NoticePage(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None


def _delivery(row: Any) -> DeliveryOut:
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


def _notice(row: Any, rows: list[Any]) -> NoticeOut:
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
        deliveries=[_delivery(d) for d in rows],
    )


@router.get("", response_model=NoticePage, summary="通知记录 Notices and their deliveries")
async def list_notices(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Literal["pending", "delivered", "failed", "undeliverable"] | None = None,
    audience: Literal["donor", "staff"] | None = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    delivery_status: Annotated[
        Literal["pending", "sent", "dead"] | None,
        Query(description="only notices with a delivery in this state (dead = dead letters)"),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> NoticePage:
    query = select(notices)
    if status is not None:
        query = query.where(notices.c.status == status)
    if audience is not None:
        query = query.where(notices.c.audience == audience)
    if kind is not None:
        query = query.where(notices.c.kind == kind)
    if delivery_status is not None:
        query = query.where(
            exists().where(
                deliveries.c.notice_id == notices.c.id, deliveries.c.status == delivery_status
            )
        )
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        try:
            at, last_id = datetime.fromisoformat(str(at_raw)), uuid.UUID(str(id_raw))
        except ValueError:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from None
        query = query.where(
            or_(notices.c.created_at < at, and_(notices.c.created_at == at, notices.c.id < last_id))
        )
    query = query.order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(limit + 1)
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
    return NoticePage(items=[_notice(r, by_notice[r.id]) for r in page], next_cursor=next_cursor)


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    summary="重新投递死信 Queue a dead-lettered delivery again",
    responses=raises(
        (NotFound, "No such delivery"),
        (Conflict, "Not dead, or its contact details were erased"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def retry_delivery(
    delivery_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Admin,
) -> JSONResponse:
    async with runtime.session_factory() as session, session.begin():

        async def act() -> tuple[int, dict[str, Any]]:
            row = (
                await session.execute(
                    select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()
                )
            ).first()
            if row is None:
                raise NotFound(f"投递记录不存在 (delivery {delivery_id} not found)")
            if row.status != "dead":
                raise Conflict(f"只能重投死信 (only a dead delivery can be retried: {row.status})")
            if row.address is None:
                raise Conflict(
                    "联系方式已按规定删除，无法重投 (the contact details were erased; cannot retry)"
                )
            now = datetime.now(UTC)
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(status="pending", attempts=0, next_attempt_at=now, dead_at=None)
            )
            await session.execute(
                update(notices)
                .where(notices.c.id == row.notice_id)
                .values(status="pending", completed_at=None)
            )
            await wake_delivery(session)
            fresh = (
                await session.execute(select(deliveries).where(deliveries.c.id == delivery_id))
            ).one()
            return 200, _delivery(fresh).model_dump(mode="json")

        status, payload, replayed = await run_idempotent(
            session,
            scope=f"{staff.username}:POST /api/v1/notices/deliveries/{delivery_id}/retry",
            key=key,
            payload={},
            action=act,
        )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status, headers=headers)
