"""``/api/v1/requisitions``: a town station's requisitions (请领) and the district's decision."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, Forbidden, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, act_on_row, idempotent, read_row
from shared.openapi import Declared, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    POST_CONFLICT,
    IfMatch,
    Reader,
    settings_of,
    versioned,
)
from warehouse.entrypoints.api.plan_schemas import (
    RequisitionApproveIn,
    RequisitionCreate,
    RequisitionOut,
    RequisitionPage,
)
from warehouse.entrypoints.api.schemas import ReasonIn, Strict
from warehouse.service_layer import requisitions
from warehouse.service_layer.queries import requisitions as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1/requisitions", tags=["preparedness 备灾"])

Raiser = require_roles(Role.WAREHOUSE, Role.DISPATCHER)  # the station's keeper or dispatcher
Approver = require_roles(Role.APPROVER)

NO_REQUISITION: Declared = (NotFound, "No such requisition")
DECIDED: Declared = (Conflict, "The requisition is decided already, or version mismatch")
DECISION: tuple[Declared, ...] = (
    NO_REQUISITION,
    DECIDED,
    (Forbidden, "Not the district's staff, or the approver is the requester (four eyes)"),
    POST_CONFLICT,
)


class CancelIn(Strict):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


@router.post(
    "",
    status_code=201,
    response_model=RequisitionOut,
    summary="请领（救灾站保管员/调度员）",
    responses=versioned(
        (NotFound, "The warehouse, an item or the plan does not exist"),
        (Conflict, "The warehouse or an item is inactive"),
        OTHER_ORG_WRITE,
        POST_CONFLICT,
        status=201,
    ),
)
async def create_requisition(
    body: RequisitionCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Raiser,
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        created = await requisitions.create_requisition(
            uow,
            warehouse_code=body.warehouse_code,
            lines=[(line.item_code, line.quantity) for line in body.lines],
            reason=body.reason,
            urgency=body.urgency,
            plan_code=body.plan_code,
            actor=staff.username,
            actor_org=staff.org,
        )
        return 201, await queries.requisition_body(uow.session, created, scope=None)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/requisitions",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.get(
    "",
    response_model=RequisitionPage,
    summary="请领单列表（镇街只见本组织的）",
    responses=raises(OTHER_ORG_READ),
)
async def list_requisitions(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    status: str | None = Query(
        None, pattern="^(requested|approved|partly_approved|refused|cancelled)$"
    ),
    warehouse_code: str | None = Query(None, max_length=32),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        return await queries.list_requisitions(
            session,
            status=status,
            warehouse_code=warehouse_code,
            scope=read_scope(staff),
            limit=limit,
            cursor=cursor,
        )


@router.get(
    "/{requisition_id}",
    response_model=RequisitionOut,
    summary="请领单详情",
    responses=versioned(NO_REQUISITION, OTHER_ORG_READ),
)
async def get_requisition(
    requisition_id: uuid.UUID, runtime: RuntimeDep, staff: StaffPrincipal = Reader
) -> JSONResponse:
    async def render(uow: SqlUnitOfWork) -> dict[str, Any]:
        return await queries.requisition_body(uow.session, requisition_id, scope=read_scope(staff))

    return await read_row(runtime, render)


def _render(requisition_id: uuid.UUID) -> Any:
    async def render(uow: SqlUnitOfWork) -> dict[str, Any]:
        return await queries.requisition_body(uow.session, requisition_id, scope=None)

    return render


@router.post(
    "/{requisition_id}/approve",
    response_model=RequisitionOut,
    summary="批准/部分批准（区审批人，非申请人）：生成调拨单并直接审批",
    responses=versioned(*DECISION, (NotFound, "The source warehouse or an item does not exist")),
)
async def approve(
    requisition_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    body: RequisitionApproveIn | None = None,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    decision = body or RequisitionApproveIn()
    approved = {line.item_code: line.approved_quantity for line in decision.lines or []}
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/requisitions/{requisition_id}/approve",
        body=decision,
        change=lambda uow: requisitions.approve_requisition(
            uow,
            requisition_id,
            source_warehouse_code=decision.source_warehouse_code,
            approved=approved,
            reason=decision.reason,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
            min_days=settings_of(runtime).pick_min_days_to_expiry,
        ),
        render=_render(requisition_id),
    )


@router.post(
    "/{requisition_id}/refuse",
    response_model=RequisitionOut,
    summary="拒绝（区审批人，须填写原因）",
    responses=versioned(*DECISION),
)
async def refuse(
    requisition_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    staff: StaffPrincipal = Approver,
) -> JSONResponse:
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/requisitions/{requisition_id}/refuse",
        body=body,
        change=lambda uow: requisitions.refuse_requisition(
            uow,
            requisition_id,
            reason=body.reason,
            expected=version,
            actor=staff.username,
            actor_org=staff.org,
        ),
        render=_render(requisition_id),
    )


@router.post(
    "/{requisition_id}/cancel",
    response_model=RequisitionOut,
    summary="撤回（申请人，待审批时）",
    responses=versioned(
        NO_REQUISITION, DECIDED, (Forbidden, "Only the requester may cancel"), POST_CONFLICT
    ),
)
async def cancel(
    requisition_id: uuid.UUID,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    body: CancelIn | None = None,
    staff: StaffPrincipal = Raiser,
) -> JSONResponse:
    return await act_on_row(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/requisitions/{requisition_id}/cancel",
        body=body,
        change=lambda uow: requisitions.cancel_requisition(
            uow,
            requisition_id,
            reason=body.reason if body else None,
            expected=version,
            actor=staff.username,
        ),
        render=_render(requisition_id),
    )
