"""``/api/v1/follow-ups``: record a visit on a disbursement or a gift; list the visits.

Included right after ``disbursements.router`` (the OpenAPI paths keep their order).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from donation.domain.commands import RecordFollowUp
from donation.entrypoints.api.project_access import Reader, Visitor
from donation.entrypoints.api.schemas import FollowUpCreate, FollowUpOut, FollowUpPage
from donation.service_layer import follow_ups
from donation.service_layer.queries import follow_ups as queries
from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import IDEMPOTENCY_CONFLICT, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])


@router.post(
    "/api/v1/follow-ups",
    status_code=201,
    response_model=FollowUpOut,
    summary="登记回访 Record a follow-up visit on a disbursement or a gift",
    responses=raises(
        (NotFound, "The disbursement or gift named does not exist"),
        (Conflict, "The disbursement is not approved"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def create_follow_up(
    body: FollowUpCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Visitor
) -> JSONResponse:
    command = RecordFollowUp(actor=staff.username, **body.model_dump())

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        follow_up = await follow_ups.record_follow_up(uow, command)
        return 201, queries.follow_up_body(follow_up)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/follow-ups",
        payload=body.model_dump(mode="json"),
        action=act,
    )


@router.get("/api/v1/follow-ups", response_model=FollowUpPage, summary="回访列表 Follow-ups")
async def list_follow_ups(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
    disbursement_id: uuid.UUID | None = None,
    donation_id: uuid.UUID | None = None,
    project_code: Annotated[str | None, Query(max_length=32)] = None,
    visited_from: date | None = None,
    visited_to: date | None = None,
) -> FollowUpPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_follow_ups(
            uow,
            limit=limit,
            cursor=cursor,
            disbursement_id=disbursement_id,
            donation_id=donation_id,
            project_code=project_code,
            visited_from=visited_from,
            visited_to=visited_to,
        )
