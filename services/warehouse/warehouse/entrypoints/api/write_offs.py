"""``/api/v1/stock-adjustments``: the differences stock counts found, and the write-offs above
the four-eyes threshold that wait for a second person (approve / reject)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row, read_row
from shared.openapi import Declared
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from warehouse.domain.commands import ApproveWriteOff, RejectWriteOff
from warehouse.entrypoints.api.deps import POST_CONFLICT, IfMatch, Reader, versioned
from warehouse.entrypoints.api.schemas import ReasonIn, StockAdjustmentOut, StockAdjustmentPage
from warehouse.service_layer import write_offs
from warehouse.service_layer.queries import stock as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1/stock-adjustments", tags=["stock 库存"])

Approver = require_roles(Role.APPROVER)
NO_ADJUSTMENT: Declared = (NotFound, "No such stock adjustment")
DECISION: tuple[Declared, ...] = (
    NO_ADJUSTMENT,
    (Conflict, "Not pending, version mismatch (If-Match), or the lot changed since counted"),
    POST_CONFLICT,
)


@router.get(
    "", response_model=StockAdjustmentPage, summary="库存调整（status=pending：待审批的报损）"
)
async def list_adjustments(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    status: str | None = Query(None, pattern="^(applied|pending|rejected)$"),
    warehouse_code: str | None = Query(None, max_length=32),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StockAdjustmentPage:
    async with runtime.session_factory() as session:
        return await queries.list_adjustments(
            session,
            status=status,
            warehouse_code=warehouse_code,
            scope=read_scope(staff),
            limit=limit,
            cursor=cursor,
        )


@router.get(
    "/{adjustment_id}",
    response_model=StockAdjustmentOut,
    summary="库存调整详情",
    responses=versioned(NO_ADJUSTMENT),
)
async def get_adjustment(
    adjustment_id: uuid.UUID, runtime: RuntimeDep, staff: StaffPrincipal = Reader
) -> JSONResponse:
    async def render(uow: SqlUnitOfWork) -> dict[str, object]:
        return await queries.adjustment_body(uow.session, adjustment_id, scope=read_scope(staff))

    return await read_row(runtime, render)


@router.post(
    "/{adjustment_id}/approve",
    response_model=StockAdjustmentOut,
    summary="审批报损核销（审批人，非盘点人；超过阈值须双人）",
    responses=versioned(*DECISION),
)
async def approve(
    adjustment_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = ApproveWriteOff(
        adjustment_id, staff.username, actor_org=staff.org, expected_version=version
    )

    async def render(uow: SqlUnitOfWork) -> dict[str, object]:
        return await queries.adjustment_body(uow.session, adjustment_id)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/stock-adjustments/{adjustment_id}/approve",
        body=None,
        change=lambda uow: write_offs.approve_write_off(uow, command),
        render=render,
    )


@router.post(
    "/{adjustment_id}/reject",
    response_model=StockAdjustmentOut,
    summary="驳回报损核销（库存不变）",
    responses=versioned(*DECISION),
)
async def reject(
    adjustment_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    command = RejectWriteOff(
        adjustment_id, staff.username, body.reason, actor_org=staff.org, expected_version=version
    )

    async def render(uow: SqlUnitOfWork) -> dict[str, object]:
        return await queries.adjustment_body(uow.session, adjustment_id)

    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/stock-adjustments/{adjustment_id}/reject",
        body=body,
        change=lambda uow: write_offs.reject_write_off(uow, command),
        render=render,
    )
