"""``/api/v1/refund-requests``: refunds above ``DONATION_REFUND_FOUR_EYES_FEN`` (four eyes).

``POST /api/v1/donations/{id}/refund`` asks for one (answering 202 with the request); another
account than the one that asked approves it (the refund is booked then) or rejects it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from donation.domain.commands import ApproveRefund, RejectRefund
from donation.entrypoints.api.project_access import Approver
from donation.entrypoints.api.schemas import ReasonIn, RefundRequestOut, RefundRequestPage
from donation.service_layer import gifts
from donation.service_layer.queries import refunds as queries
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, Forbidden, NotFound
from shared.http_commands import Change, IdempotencyKey, RuntimeDep, act_on_row
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, raises
from shared.uow import SqlUnitOfWork

router = APIRouter(prefix="/api/v1/refund-requests", tags=["donations"])

NO_REQUEST: Declared = (NotFound, "No such refund request")
# who reads gifts reads their refund requests (as /api/v1/donations)
Reader = require_roles(Role.FINANCE, Role.APPROVER, Role.AUDITOR)


async def _act(
    runtime: RuntimeDep,
    staff: StaffPrincipal,
    key: str | None,
    request_id: uuid.UUID,
    action: str,
    body: BaseModel | None,
    change: Change,
) -> JSONResponse:
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /refund-requests/{request_id}/{action}",
        body=body,
        change=change,
        render=lambda uow: queries.refund_request_body(uow, request_id),
    )


@router.get("", response_model=RefundRequestPage, summary="退款申请 Refund requests (newest first)")
async def list_refund_requests(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
    donation_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RefundRequestPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_refund_requests(
            uow, status=status, donation_id=donation_id, limit=limit
        )


@router.get(
    "/{request_id}",
    response_model=RefundRequestOut,
    summary="退款申请详情 One refund request",
    responses=raises(NO_REQUEST),
)
async def get_refund_request(
    request_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    async with runtime.unit_of_work() as uow:
        return JSONResponse(await queries.refund_request_body(uow, request_id))


@router.post(
    "/{request_id}/approve",
    response_model=RefundRequestOut,
    summary="审批退款 Approve a refund (not by the person who asked); books it",
    responses=raises(
        (Forbidden, "Four eyes: you requested it"),
        NO_REQUEST,
        (Conflict, "Not pending, or the gift's unused money changed since the request"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def approve(
    request_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = ApproveRefund(request_id=request_id, actor=staff.username)

    async def change(uow: SqlUnitOfWork) -> object:
        return await gifts.approve_refund(uow, command)

    return await _act(runtime, staff, key, request_id, "approve", None, change)


@router.post(
    "/{request_id}/reject",
    response_model=RefundRequestOut,
    summary="驳回退款申请 Reject a refund request",
    responses=raises(
        (Forbidden, "Four eyes: you requested it"),
        NO_REQUEST,
        (Conflict, "Not pending"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def reject(
    request_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = RejectRefund(request_id=request_id, actor=staff.username, reason=body.reason)

    async def change(uow: SqlUnitOfWork) -> object:
        return await gifts.reject_refund(uow, command)

    return await _act(runtime, staff, key, request_id, "reject", body, change)
