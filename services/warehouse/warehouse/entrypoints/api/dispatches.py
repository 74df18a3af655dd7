"""``/api/v1/dispatches``: request, approve/reject, pick (FEFO), ship, deliver, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import Declared
from shared.pagination import Cursor, Limit, decode_cursor, read_page
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.adapters.orm import dispatch_allocations, dispatches, lots, warehouses
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    IfMatch,
    Reader,
    settings_of,
    versioned,
)
from warehouse.entrypoints.api.schemas import (
    AllocationOut,
    DeliverIn,
    DispatchCreate,
    DispatchOut,
    DispatchPage,
    ReasonIn,
    ShipIn,
)
from warehouse.service_layer import dispatch as flow

router = APIRouter(prefix="/api/v1/dispatches", tags=["dispatch 调拨/出库"])

NO_DISPATCH: Declared = (NotFound, "No such dispatch")
# What every step of a dispatch (approve ... deliver) can answer besides its own.
STEP: tuple[Declared, ...] = (
    NO_DISPATCH,
    (Conflict, "Not allowed in the dispatch's status, or version mismatch (If-Match)"),
    POST_CONFLICT,
)

Requester = require_roles(Role.DISPATCHER)
Approver = require_roles(Role.APPROVER)
Picker = require_roles(Role.WAREHOUSE)
Closer = require_roles(Role.DISPATCHER, Role.WAREHOUSE)

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


async def _warehouse_codes(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(warehouses.c.id, warehouses.c.code).where(warehouses.c.id.in_(ids))
    )
    return {r.id: r.code for r in rows}


# Lots are allocated by picking: a dispatch still requested or approved has none.
_UNPICKED = frozenset({"requested", "approved"})


async def to_out(
    session: AsyncSession,
    row: Any,
    *,
    allocs: Sequence[Any] | None = None,
    codes: dict[uuid.UUID, str] | None = None,
) -> DispatchOut:
    """The API view of a dispatch; ``allocs`` and ``codes`` when the caller has them already."""
    if codes is None:
        codes = await _warehouse_codes(
            session,
            {
                row.from_warehouse_id,
                *([row.destination_warehouse_id] if row.destination_warehouse_id else []),
            },
        )
    if allocs is None:
        allocs = [] if row.status in _UNPICKED else await flow.allocations_of(session, row.id)
    return DispatchOut(
        id=row.id,
        dispatch_no=row.dispatch_no,
        kind=row.kind,
        status=row.status,
        from_warehouse_code=codes[row.from_warehouse_id],
        destination={
            "kind": row.destination_kind,
            "name": row.destination_name,
            "town": row.destination_town,
            "address": row.destination_address,
            "warehouse_code": codes.get(row.destination_warehouse_id)
            if row.destination_warehouse_id
            else None,
        },
        incident_code=row.incident_code,
        incident_name=row.incident_name,
        urgency=row.urgency,
        lines=[{k: v for k, v in line.items() if k != "item_id"} for line in row.lines],
        allocations=[
            AllocationOut(
                lot_id=a.lot_id,
                lot_no=a.lot_no,
                item_code=a.item_code,
                quantity=a.quantity,
                expiry_date=a.expiry_date,
                source_kind=a.source_kind,
                donation_id=a.donation_id,
                tracking_code=a.tracking_code,
                delivered_quantity=a.delivered_quantity,
                returned_quantity=a.returned_quantity,
            )
            for a in allocs
        ],
        note=row.note,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        decided_reason=row.decided_reason,
        picked_by=row.picked_by,
        picked_at=row.picked_at,
        waybill_no=row.waybill_no,
        carrier=row.carrier,
        shipped_by=row.shipped_by,
        shipped_at=row.shipped_at,
        recipient_name=row.recipient_name,
        recipient_phone=row.recipient_phone,
        recipient_org=row.recipient_org,
        delivery_note=row.delivery_note,
        delivered_by=row.delivered_by,
        delivered_at=row.delivered_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        version=row.version,
    )


async def _respond(
    uow: SqlUnitOfWork, dispatch_id: uuid.UUID, status: int = 200
) -> tuple[int, dict[str, Any]]:
    row = await flow.load_dispatch(uow.session, dispatch_id)
    return status, (await to_out(uow.session, row)).model_dump(mode="json")


@router.post(
    "",
    status_code=201,
    response_model=DispatchOut,
    summary="调拨申请（调度员）",
    responses=versioned(
        (NotFound, "A warehouse or an item named does not exist"),
        (Conflict, "A warehouse or an item named is inactive"),
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
    command = flow.RequestDispatch(
        from_warehouse_code=body.from_warehouse_code,
        destination=flow.Destination(**body.destination.model_dump()),
        lines=[(line.item_code, line.quantity) for line in body.lines],
        actor=staff.username,
        urgency=body.urgency,
        incident_code=body.incident_code,
        incident_name=body.incident_name,
        note=body.note,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        done = await flow.request(uow, command)
        out = await to_out(uow.session, done.row, allocs=done.allocations, codes=done.codes)
        return 201, out.model_dump(mode="json")

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
    run: Callable[[SqlUnitOfWork], Awaitable[flow.Outcome | None]],
) -> JSONResponse:
    """Run the step ``run`` of a dispatch in one unit of work, once per Idempotency-Key (the
    request is the body and the If-Match version); answer 200 with the dispatch after it, its
    version as the ETag (on a replay, the stored answer's)."""

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        done = await run(uow)
        if done is None:
            return await _respond(uow, step.dispatch_id)
        out = await to_out(uow.session, done.row, allocs=done.allocations, codes=done.codes)
        return 200, out.model_dump(mode="json")

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


async def _reject_or_cancel(
    step: StepRequest, staff: StaffPrincipal, action: str, body: ReasonIn
) -> JSONResponse:
    """Reject or cancel (``action``) with the body's reason: the reservations are released."""
    return await _step(
        step,
        staff,
        action,
        body,
        lambda uow: flow.reject_or_cancel(
            uow,
            step.dispatch_id,
            action=action,
            actor=staff.username,
            reason=body.reason,
            expected_version=step.version,
        ),
    )


@_step_route("approve", "审批通过（审批人，非申请人）")
async def approve(step: Step, staff: StaffPrincipal = Approver) -> JSONResponse:
    return await _step(
        step,
        staff,
        "approve",
        None,
        lambda uow: flow.approve(
            uow, step.dispatch_id, actor=staff.username, expected_version=step.version
        ),
    )


@_step_route("reject", "驳回（审批人，释放占用）")
async def reject(body: ReasonIn, step: Step, staff: StaffPrincipal = Approver) -> JSONResponse:
    return await _reject_or_cancel(step, staff, "reject", body)


@_step_route("cancel", "取消（发运前，释放占用）")
async def cancel(body: ReasonIn, step: Step, staff: StaffPrincipal = Closer) -> JSONResponse:
    return await _reject_or_cancel(step, staff, "cancel", body)


@_step_route(
    "pick",
    "拣货（先到期先出，占用库存）",
    (Conflict, "Not enough stock eligible (FEFO, shelf life left)"),
)
async def pick(step: Step, staff: StaffPrincipal = Picker) -> JSONResponse:
    min_days = settings_of(step.runtime).pick_min_days_to_expiry
    return await _step(
        step,
        staff,
        "pick",
        None,
        lambda uow: flow.pick(
            uow,
            step.dispatch_id,
            actor=staff.username,
            min_days=min_days,
            expected_version=step.version,
        ),
    )


@_step_route("ship", "发运（运单号）")
async def ship(body: ShipIn, step: Step, staff: StaffPrincipal = Picker) -> JSONResponse:
    return await _step(
        step,
        staff,
        "ship",
        body,
        lambda uow: flow.ship(
            uow,
            step.dispatch_id,
            actor=staff.username,
            waybill_no=body.waybill_no,
            carrier=body.carrier,
            expected_version=step.version,
        ),
    )


@_step_route("deliver", "签收（可部分签收、退回）")
async def deliver(body: DeliverIn, step: Step, staff: StaffPrincipal = Closer) -> JSONResponse:
    command = flow.Deliver(
        recipient_name=body.recipient_name,
        actor=staff.username,
        recipient_phone=body.recipient_phone,
        recipient_org=body.recipient_org,
        note=body.note,
        returns=[flow.ReturnLine(**r.model_dump()) for r in body.returns],
        delivered_at=body.delivered_at.astimezone(UTC) if body.delivered_at else datetime.now(UTC),
    )
    return await _step(
        step,
        staff,
        "deliver",
        body,
        lambda uow: flow.deliver(uow, step.dispatch_id, command, expected_version=step.version),
    )


@router.get("", response_model=DispatchPage, summary="调拨单列表")
async def list_dispatches(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
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
    query = select(dispatches)
    if status:
        query = query.where(dispatches.c.status == status)
    if kind:
        query = query.where(dispatches.c.kind == kind)
    if from_warehouse_code:
        query = query.where(
            dispatches.c.from_warehouse_id
            == select(warehouses.c.id)
            .where(warehouses.c.code == from_warehouse_code)
            .scalar_subquery()
        )
    if town:
        query = query.where(dispatches.c.destination_town == town)
    if incident_code:
        query = query.where(dispatches.c.incident_code == incident_code)
    if donation_id:
        query = query.where(
            exists()
            .where(dispatch_allocations.c.dispatch_id == dispatches.c.id)
            .where(lots.c.id == dispatch_allocations.c.lot_id)
            .where(lots.c.donation_id == donation_id)
        )
    if cursor:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                dispatches.c.requested_at < at,
                and_(dispatches.c.requested_at == at, dispatches.c.id < last),
            )
        )
    query = query.order_by(dispatches.c.requested_at.desc(), dispatches.c.id.desc())
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(
            session, query, limit, lambda r: [r.requested_at.isoformat(), str(r.id)]
        )
        out = [await to_out(session, r) for r in page]
    return DispatchPage(items=out, next_cursor=next_cursor)


@router.get(
    "/{dispatch_id}",
    response_model=DispatchOut,
    summary="调拨单详情",
    responses=versioned(NO_DISPATCH),
)
async def get_dispatch(
    dispatch_id: uuid.UUID, runtime: RuntimeDep, response: Response, _: StaffPrincipal = Reader
) -> DispatchOut:
    async with runtime.session_factory() as session:
        row = await flow.load_dispatch(session, dispatch_id)
        out = await to_out(session, row)
    response.headers.update(etag(out.version))
    return out
