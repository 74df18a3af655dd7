"""``/api/v1/inbounds``: expected receipts (goods gifts, procurement) and their confirmation.

``/api/v1/expected-inbounds`` (the first slice's read-only list) is kept for compatibility.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.domain.commands import (
    ConfirmInbound,
    ConfirmLine,
    ExpectedLine,
    RegisterProcurement,
)
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    POST_CONFLICT,
    Keeper,
    Reader,
    versioned,
)
from warehouse.entrypoints.api.schemas import (
    ExpectedInboundOut,
    InboundConfirm,
    InboundCreate,
    InboundOut,
    InboundPage,
)
from warehouse.service_layer.inbound import confirm_inbound, register_procurement
from warehouse.service_layer.queries import inbounds as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1", tags=["inbound 入库"])


@router.post(
    "/inbounds",
    status_code=201,
    response_model=InboundOut,
    summary="登记采购入库（预期）",
    responses=versioned(
        (NotFound, "The warehouse or an item named does not exist"),
        OTHER_ORG_WRITE,
        POST_CONFLICT,
        status=201,
    ),
)
async def create_inbound(
    body: InboundCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    command = RegisterProcurement(
        warehouse_code=body.warehouse_code,
        procurement_order=body.procurement_order,
        lines=tuple(ExpectedLine(**line.model_dump()) for line in body.lines),
        actor=staff.username,
        actor_org=staff.org,
        supplier=body.supplier,
        note=body.note,
        disbursement_id=body.disbursement_id,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        inbound_id = await register_procurement(uow, command)
        inbound = await queries.get_inbound(uow.session, inbound_id, scope=None)  # reached
        return 201, inbound.model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/inbounds",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.post(
    "/inbounds/{inbound_id}/confirm",
    response_model=InboundOut,
    summary="确认到货（入库）",
    responses=versioned(
        (NotFound, "No such inbound, or the warehouse or an item named does not exist"),
        (Conflict, "Not expected any more, version mismatch, or the warehouse is inactive"),
        OTHER_ORG_WRITE,
        POST_CONFLICT,
    ),
)
async def confirm(
    inbound_id: uuid.UUID,
    body: InboundConfirm,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    staff: StaffPrincipal = Keeper,
) -> JSONResponse:
    command = ConfirmInbound(
        inbound_id=inbound_id,
        warehouse_code=body.warehouse_code,
        lines=tuple(ConfirmLine(**line.model_dump()) for line in body.lines),
        actor=staff.username,
        actor_org=staff.org,
        note=body.note,
        expected_version=body.version,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await confirm_inbound(uow, command)
        inbound = await queries.get_inbound(uow.session, inbound_id, scope=None)  # reached
        return 200, inbound.model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/inbounds/{inbound_id}/confirm",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.get(
    "/inbounds",
    response_model=InboundPage,
    summary="入库单列表",
    responses=raises(OTHER_ORG_READ),
)
async def list_inbounds(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    status: str | None = Query(None, pattern="^(expected|received|cancelled)$"),
    source_kind: str | None = Query(None, pattern="^(donation|procurement|transfer)$"),
    warehouse_code: str | None = Query(None, max_length=32),
    donation_id: uuid.UUID | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> InboundPage:
    async with runtime.session_factory() as session:
        return await queries.list_inbounds(
            session,
            status=status,
            source_kind=source_kind,
            warehouse_code=warehouse_code,
            donation_id=donation_id,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/inbounds/{inbound_id}",
    response_model=InboundOut,
    summary="入库单详情",
    responses=versioned((NotFound, "No such inbound"), OTHER_ORG_READ),
)
async def get_inbound(
    inbound_id: uuid.UUID, runtime: RuntimeDep, response: Response, staff: StaffPrincipal = Reader
) -> InboundOut:
    async with runtime.session_factory() as session:
        out = await queries.get_inbound(session, inbound_id, scope=read_scope(staff))
    response.headers.update(etag(out.version))
    return out


@router.get(
    "/expected-inbounds",
    response_model=list[ExpectedInboundOut],
    summary="待入库的捐赠物资（兼容旧接口；请用 /inbounds?status=expected）",
)
async def list_expected(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,  # the same rows any staff role reads at /inbounds
    limit: Limit = 50,
) -> list[ExpectedInboundOut]:
    async with runtime.session_factory() as session:
        return await queries.list_expected(session, limit, scope=read_scope(staff))
