"""``/api/v1/notices``: what was sent, what is waiting, what was dead-lettered (staff).

Never shows a donor's contact details or a donor notice's text; a dead webhook delivery (whose
URL is configuration, kept) can be queued again by an admin.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from notification.domain.commands import RetryDelivery
from notification.entrypoints.api.schemas import (
    AudienceFilter,
    DeliveryOut,
    DeliveryStatusFilter,
    NoticePage,
    NoticeStatusFilter,
)
from notification.service_layer import notices as svc
from notification.service_layer.queries import notices as queries
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])

Reader = require_roles(Role.AUDITOR)
Admin = require_roles(Role.ADMIN)


@router.get("", response_model=NoticePage, summary="通知记录 Notices and their deliveries")
async def list_notices(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: NoticeStatusFilter | None = None,
    audience: AudienceFilter | None = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    delivery_status: Annotated[
        DeliveryStatusFilter | None,
        Query(description="only notices with a delivery in this state (dead = dead letters)"),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> NoticePage:
    filters = queries.NoticeFilters(
        status=status, audience=audience, kind=kind, delivery_status=delivery_status
    )
    return await queries.notice_page(runtime, filters, limit=limit, cursor=cursor)


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
    command = RetryDelivery(delivery_id=delivery_id)
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/notices/deliveries/{delivery_id}/retry",
        body=None,
        change=lambda uow: svc.retry_delivery(uow, command),
        render=lambda uow: queries.delivery_body(uow, delivery_id),
    )
