"""``/api/v1/dispatches``: request, approve/reject, pick (FEFO), ship, deliver, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import Declared
from shared.pagination import Cursor, Limit
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.domain.commands import (
    ApproveDispatch,
    CancelDispatch,
    DeliverDispatch,
    Destination,
    PickDispatch,
    RejectDispatch,
    RequestDispatch,
    ReturnLine,
    ShipDispatch,
)
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    POST_CONFLICT,
    IfMatch,
    Reader,
    settings_of,
    versioned,
)
from warehouse.entrypoints.api.schemas import (
    ApproveIn,
    DeliverIn,
    DispatchCreate,
    DispatchOut,
    DispatchPage,
    ReasonIn,
    ShipIn,
)
from warehouse.service_layer import clock, delivery, picking
from warehouse.service_layer import dispatch as lifecycle
from warehouse.service_layer.dispatch_steps import Outcome
from warehouse.service_layer.queries import dispatches as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1/dispatches", tags=["dispatch 调拨/出库"])

NO_DISPATCH: Declared = (NotFound, "No such dispatch")
# What every step of a dispatch (approve ... deliver) can answer besides its own.
STEP: tuple[Declared, ...] = (
    NO_DISPATCH,
    OTHER_ORG_WRITE,
    (Conflict, "Not allowed in the dispatch's status, or version mismatch (If-Match)"),
    POST_CONFLICT,
)

Requester = require_roles(Role.DISPATCHER)
Approver = require_roles(Role.APPROVER)
Picker = require_roles(Role.WAREHOUSE)
Closer = require_roles(Role.DISPATCHER, Role.WAREHOUSE)

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


@router.post(
    "",
    status_code=201,
    response_model=DispatchOut,
    summary="调拨申请（调度员）",
    responses=versioned(
        (NotFound, "A warehouse or an item named does not exist"),
        (Conflict, "A warehouse or an item named is inactive"),
        OTHER_ORG_WRITE,
        POST_CONFLICT,
        status=201,
    ),
)
async def request_dispatch(
    body: DispatchCreate,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Requester,
) -> JSONResponse:
    command = RequestDispatch(
        from_warehouse_code=body.from_warehouse_code,
        destination=Destination(**body.destination.model_dump()),
        lines=tuple((line.item_code, line.quantity) for line in body.lines),
        actor=staff.username,
        actor_org=staff.org,
        urgency=body.urgency,
        incident_code=body.incident_code,
        incident_name=body.incident_name,
        note=body.note,
        project_code=body.project_code,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        done = await lifecycle.request_dispatch(uow, command)
        return 201, await queries.step_body(uow.session, done.row.id, done)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/dispatches",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@dataclass(frozen=True)
class StepRequest:
    """What every step of a dispatch (approve ... deliver) is called with, besides its body."""

    dispatch_id: uuid.UUID
    runtime: ServiceRuntime
    key: str | None  # Idempotency-Key
    version: int | None  # If-Match


def _step_request(
    dispatch_id: uuid.UUID, runtime: RuntimeDep, key: IdempotencyKey, version: IfMatch
) -> StepRequest:
    return StepRequest(dispatch_id, runtime, key, version)


Step = Annotated[StepRequest, Depends(_step_request)]


def _step_route(name: str, summary: str, *also: Declared) -> Callable[[_Endpoint], _Endpoint]:
    """``POST /{dispatch_id}/<name>``, a step of a dispatch: answers the dispatch after the step
    (its new version as the ETag) and can raise the ``STEP`` errors besides ``also``."""
    return router.post(
        f"/{{dispatch_id}}/{name}",
        response_model=DispatchOut,
        summary=summary,
        responses=versioned(*STEP, *also),
    )


async def _step(
    step: StepRequest,
    staff: StaffPrincipal,
    name: str,
    body: BaseModel | None,
    run: Callable[[SqlUnitOfWork], Awaitable[Outcome | None]],
) -> JSONResponse:
    """Run the step ``run`` of a dispatch in one unit of work, once per Idempotency-Key (the
    request is the body and the If-Match version); answer 200 with the dispatch after it, its
    version as the ETag (on a replay, the stored answer's)."""

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        done = await run(uow)
        return 200, await queries.step_body(uow.session, step.dispatch_id, done)

    payload = (body.model_dump(mode="json") if body is not None else {}) | {"version": step.version}
    path = f"/api/v1/dispatches/{step.dispatch_id}/{name}"
    return await idempotent(
        step.runtime,
        staff=staff,
        key=step.key,
        route=f"POST {path}",
        payload=payload,
        action=action,
    )


@_step_route("approve", "审批通过（审批人，非申请人）")
async def approve(
    step: Step, body: ApproveIn | None = None, staff: StaffPrincipal = Approver
) -> JSONResponse:
    command = ApproveDispatch(
        step.dispatch_id,
        staff.username,
        step.version,
        actor_org=staff.org,
        designated_override_reason=body.designated_override_reason if body else None,
    )
    return await _step(
        step, staff, "approve", body, lambda uow: lifecycle.approve_dispatch(uow, command)
    )


@_step_route("reject", "驳回（审批人，释放占用）")
async def reject(body: ReasonIn, step: Step, staff: StaffPrincipal = Approver) -> JSONResponse:
    command = RejectDispatch(
        step.dispatch_id, staff.username, body.reason, step.version, actor_org=staff.org
    )
    return await _step(
        step, staff, "reject", body, lambda uow: lifecycle.reject_dispatch(uow, command)
    )


@_step_route("cancel", "取消（发运前，释放占用）")
async def cancel(body: ReasonIn, step: Step, staff: StaffPrincipal = Closer) -> JSONResponse:
    command = CancelDispatch(
        step.dispatch_id, staff.username, body.reason, step.version, actor_org=staff.org
    )
    return await _step(
        step, staff, "cancel", body, lambda uow: lifecycle.cancel_dispatch(uow, command)
    )


@_step_route(
    "pick",
    "拣货（先到期先出，占用库存）",
    (Conflict, "Not enough stock eligible (FEFO, shelf life left)"),
)
async def pick(step: Step, staff: StaffPrincipal = Picker) -> JSONResponse:
    command = PickDispatch(
        step.dispatch_id,
        staff.username,
        actor_org=staff.org,
        min_days=settings_of(step.runtime).pick_min_days_to_expiry,
        expected_version=step.version,
    )
    return await _step(step, staff, "pick", None, lambda uow: picking.pick_dispatch(uow, command))


@_step_route("ship", "发运（运单号）")
async def ship(body: ShipIn, step: Step, staff: StaffPrincipal = Picker) -> JSONResponse:
    command = ShipDispatch(
        step.dispatch_id,
        staff.username,
        body.waybill_no,
        body.carrier,
        step.version,
        actor_org=staff.org,
    )
    return await _step(step, staff, "ship", body, lambda uow: lifecycle.ship_dispatch(uow, command))


@_step_route("deliver", "签收（可部分签收、退回）")
async def deliver(body: DeliverIn, step: Step, staff: StaffPrincipal = Closer) -> JSONResponse:
    command = DeliverDispatch(
        dispatch_id=step.dispatch_id,
        recipient_name=body.recipient_name,
        actor=staff.username,
        actor_org=staff.org,
        recipient_phone=body.recipient_phone,
        recipient_org=body.recipient_org,
        note=body.note,
        returns=tuple(ReturnLine(**r.model_dump()) for r in body.returns),
        delivered_at=body.delivered_at.astimezone(UTC) if body.delivered_at else clock.now(),
        expected_version=step.version,
        recipient_ids=tuple(body.recipient_ids),
    )
    return await _step(
        step, staff, "deliver", body, lambda uow: delivery.deliver_dispatch(uow, command)
    )


@router.get("", response_model=DispatchPage, summary="调拨单列表")
async def list_dispatches(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    status: str | None = Query(
        None, pattern="^(requested|approved|picked|shipped|delivered|rejected|cancelled)$"
    ),
    kind: str | None = Query(None, pattern="^(dispatch|transfer)$"),
    from_warehouse_code: str | None = Query(None, max_length=32),
    town: str | None = Query(None, max_length=20),
    incident_code: str | None = Query(None, max_length=32),
    donation_id: uuid.UUID | None = Query(None, description="运送了该笔捐赠物资的调拨单"),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> DispatchPage:
    async with runtime.session_factory() as session:
        return await queries.list_dispatches(
            session,
            status=status,
            kind=kind,
            from_warehouse_code=from_warehouse_code,
            town=town,
            incident_code=incident_code,
            donation_id=donation_id,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/{dispatch_id}",
    response_model=DispatchOut,
    summary="调拨单详情",
    responses=versioned(NO_DISPATCH, OTHER_ORG_READ),
)
async def get_dispatch(
    dispatch_id: uuid.UUID, runtime: RuntimeDep, response: Response, staff: StaffPrincipal = Reader
) -> DispatchOut:
    async with runtime.session_factory() as session:
        out = await queries.get_dispatch(session, dispatch_id, scope=read_scope(staff))
    response.headers.update(etag(out.version))
    return out
