"""Transfers on the way and the receiving station's confirmation (收货确认):
``POST /api/v1/dispatches/{id}/receive`` (received, short, damaged per item, a reason for
either), ``GET /api/v1/preparedness/in-transit`` (shipped transfers not yet received, per
destination, with their age) and ``GET /api/v1/preparedness/transit-discrepancies`` (what did not
arrive or arrived damaged, csv/xlsx too)."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from warehouse.domain.model import local_today
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    POST_CONFLICT,
    IfMatch,
    Reader,
    versioned,
)
from warehouse.entrypoints.api.exports import EXPORTABLE, ExportFormat, export_response
from warehouse.entrypoints.api.plan_schemas import ReceiveIn
from warehouse.entrypoints.api.schemas import DispatchOut
from warehouse.service_layer import clock
from warehouse.service_layer.queries import dispatches as dispatch_queries
from warehouse.service_layer.queries import transit as queries
from warehouse.service_layer.scope import read_scope
from warehouse.service_layer.transit import ReceivedLine, receive_transfer

router = APIRouter(tags=["preparedness 备灾"])

Receiver = require_roles(Role.DISPATCHER, Role.WAREHOUSE)


@router.post(
    "/api/v1/dispatches/{dispatch_id}/receive",
    response_model=DispatchOut,
    summary="调拨收货确认（实收、短少、破损及原因；短少破损不入库也不退回）",
    tags=["dispatch 调拨/出库"],
    responses=versioned(
        (NotFound, "No such dispatch"),
        OTHER_ORG_WRITE,
        (Conflict, "Not shipped, or version mismatch (If-Match)"),
        POST_CONFLICT,
    ),
)
async def receive(
    dispatch_id: uuid.UUID,
    body: ReceiveIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    version: IfMatch,
    staff: StaffPrincipal = Receiver,
) -> JSONResponse:
    lines = [
        ReceivedLine(
            item_code=x.item_code,
            received=x.received_quantity,
            short=x.short_quantity,
            damaged=x.damaged_quantity,
            reason=x.reason,
        )
        for x in body.lines
    ]
    at = body.received_at.astimezone(UTC) if body.received_at else clock.now()

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await receive_transfer(
            uow,
            dispatch_id,
            recipient_name=body.recipient_name,
            recipient_phone=body.recipient_phone,
            received_at=at,
            note=body.note,
            lines=lines,
            actor=staff.username,
            actor_org=staff.org,
            expected_version=version,
        )
        await uow.flush()
        return 200, await dispatch_queries.step_body(uow.session, dispatch_id, None)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/dispatches/{dispatch_id}/receive",
        payload=body.model_dump(mode="json") | {"version": version},
        action=action,
    )


@router.get(
    "/api/v1/preparedness/in-transit",
    summary="在途调拨（已发运未收货），按调入仓库，含在途天数",
    responses=raises(OTHER_ORG_READ),
)
async def in_transit(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    to_warehouse_code: str | None = Query(None, max_length=32),
) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        return await queries.in_transit(
            session,
            to_code=to_warehouse_code,
            scope=read_scope(staff),
            today=local_today(clock.now()),
        )


@router.get(
    "/api/v1/preparedness/transit-discrepancies",
    summary="调拨差异（短少/破损）列表，format=csv|xlsx 导出",
    responses={**raises(OTHER_ORG_READ), **EXPORTABLE},
)
async def transit_discrepancies(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    from_warehouse_code: str | None = Query(None, max_length=32),
    to_warehouse_code: str | None = Query(None, max_length=32),
    dispatch_id: uuid.UUID | None = Query(None),
    format: ExportFormat | None = Query(None, description="csv 或 xlsx：导出全部"),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    filters: dict[str, Any] = {
        "from_code": from_warehouse_code,
        "to_code": to_warehouse_code,
        "dispatch_id": dispatch_id,
        "scope": read_scope(staff),
    }
    async with runtime.session_factory() as session:
        if format is not None:
            rows = await queries.discrepancy_rows(session, **filters)
            return export_response(
                rows, queries.DISCREPANCY_HEADERS, fmt=format, filename="调拨差异"
            )
        return await queries.list_discrepancies(session, **filters, limit=limit, cursor=cursor)
