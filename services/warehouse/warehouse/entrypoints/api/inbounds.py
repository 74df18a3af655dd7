"""``/api/v1/inbounds``: expected receipts (goods gifts, procurement) and their confirmation.

``/api/v1/expected-inbounds`` (the first slice's read-only list) is kept for compatibility.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.pagination import Cursor, Limit, decode_cursor, read_page
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.adapters.orm import inbounds, warehouses
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    Keeper,
    Reader,
    versioned,
)
from warehouse.entrypoints.api.schemas import InboundConfirm, InboundCreate, InboundOut, InboundPage
from warehouse.service_layer.inbound import (
    ConfirmInbound,
    ConfirmLine,
    ExpectedLine,
    confirm_inbound,
    create_procurement,
)

router = APIRouter(prefix="/api/v1", tags=["inbound 入库"])


def _query() -> Any:
    return select(inbounds, warehouses.c.code.label("warehouse_code")).outerjoin(
        warehouses, warehouses.c.id == inbounds.c.warehouse_id
    )


def _out(row: Any) -> InboundOut:
    return InboundOut.model_validate(row, from_attributes=True)


async def load_inbound(session: AsyncSession, inbound_id: uuid.UUID) -> InboundOut:
    row = (await session.execute(_query().where(inbounds.c.id == inbound_id))).first()
    if row is None:
        raise NotFound(f"入库单不存在 (inbound {inbound_id} not found)")
    return _out(row)


@router.post(
    "/inbounds",
    status_code=201,
    response_model=InboundOut,
    summary="登记采购入库（预期）",
    responses=versioned(
        (NotFound, "The warehouse or an item named does not exist"), POST_CONFLICT, status=201
    ),
)
async def create_inbound(
    body: InboundCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        inbound_id = await create_procurement(
            uow,
            warehouse_code=body.warehouse_code,
            procurement_order=body.procurement_order,
            supplier=body.supplier,
            lines=[ExpectedLine(**line.model_dump()) for line in body.lines],
            note=body.note,
            actor=staff.username,
        )
        return 201, (await load_inbound(uow.session, inbound_id)).model_dump(mode="json")

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
        lines=[ConfirmLine(**line.model_dump()) for line in body.lines],
        actor=staff.username,
        note=body.note,
        expected_version=body.version,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await confirm_inbound(uow, command)
        return 200, (await load_inbound(uow.session, inbound_id)).model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route=f"POST /api/v1/inbounds/{inbound_id}/confirm",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.get("/inbounds", response_model=InboundPage, summary="入库单列表")
async def list_inbounds(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    status: str | None = Query(None, pattern="^(expected|received|cancelled)$"),
    source_kind: str | None = Query(None, pattern="^(donation|procurement|transfer)$"),
    warehouse_code: str | None = Query(None, max_length=32),
    donation_id: uuid.UUID | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> InboundPage:
    query = _query()
    if status:
        query = query.where(inbounds.c.status == status)
    if source_kind:
        query = query.where(inbounds.c.source_kind == source_kind)
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if donation_id:
        query = query.where(inbounds.c.donation_id == donation_id)
    if cursor:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                inbounds.c.announced_at < at,
                and_(inbounds.c.announced_at == at, inbounds.c.id < last),
            )
        )
    query = query.order_by(inbounds.c.announced_at.desc(), inbounds.c.id.desc())
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(
            session, query, limit, lambda r: [r.announced_at.isoformat(), str(r.id)]
        )
    return InboundPage(items=[_out(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/inbounds/{inbound_id}",
    response_model=InboundOut,
    summary="入库单详情",
    responses=versioned((NotFound, "No such inbound")),
)
async def get_inbound(
    inbound_id: uuid.UUID, runtime: RuntimeDep, response: Response, _: StaffPrincipal = Reader
) -> InboundOut:
    async with runtime.session_factory() as session:
        out = await load_inbound(session, inbound_id)
    response.headers.update(etag(out.version))
    return out


class ExpectedInboundOut(BaseModel):
    id: uuid.UUID
    donation_id: uuid.UUID | None
    tracking_code: str | None
    donor_display_name: str | None
    lines: list[dict[str, Any]]
    status: str
    announced_at: datetime


@router.get(
    "/expected-inbounds",
    response_model=list[ExpectedInboundOut],
    summary="待入库的捐赠物资（兼容旧接口；请用 /inbounds?status=expected）",
)
async def list_expected(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,  # the same rows any staff role reads at /inbounds
    limit: Limit = 50,
) -> list[ExpectedInboundOut]:
    query = (
        select(inbounds)
        .where(inbounds.c.status == "expected", inbounds.c.source_kind == "donation")
        .order_by(inbounds.c.announced_at.desc())
        .limit(limit)
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return [ExpectedInboundOut.model_validate(r, from_attributes=True) for r in rows]
