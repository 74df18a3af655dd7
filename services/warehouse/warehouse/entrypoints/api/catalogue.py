"""``/api/v1/warehouses`` and ``/api/v1/items``: places and the relief-item catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.openapi import Declared, raises
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.uow import SqlUnitOfWork
from warehouse.adapters.orm import items, warehouses
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    IdempotencyKey,
    Keeper,
    Reader,
    RuntimeDep,
    idempotent_post,
)
from warehouse.entrypoints.api.schemas import (
    ItemCreate,
    ItemOut,
    ItemPage,
    ItemUpdate,
    SafetyStockSet,
    WarehouseCreate,
    WarehouseOut,
    WarehousePage,
    WarehouseUpdate,
)
from warehouse.service_layer import catalogue

router = APIRouter(prefix="/api/v1", tags=["catalogue 仓库与物资目录"])

NO_WAREHOUSE: Declared = (NotFound, "No such warehouse")
NO_ITEM: Declared = (NotFound, "No such item")
STALE: Declared = (Conflict, "Version mismatch (the body's version is not the current one)")


def _warehouse_out(row: Any) -> WarehouseOut:
    return WarehouseOut.model_validate(row, from_attributes=True)


def _item_out(row: Any) -> ItemOut:
    return ItemOut.model_validate(row, from_attributes=True)


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseOut,
    summary="新建仓库/救灾站",
    responses=raises((Conflict, "The warehouse code exists"), POST_CONFLICT),
)
async def create_warehouse(
    body: WarehouseCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_warehouse(uow, body.model_dump(), actor=staff.username)
        row = (
            await uow.session.execute(select(warehouses).where(warehouses.c.code == body.code))
        ).one()
        return 201, _warehouse_out(row).model_dump(mode="json")

    return await idempotent_post(
        runtime, staff, key, "/api/v1/warehouses", body.model_dump(mode="json"), action
    )


@router.get("/warehouses", response_model=WarehousePage, summary="仓库列表")
async def list_warehouses(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    town: str | None = Query(None, max_length=20),
    kind: str | None = Query(None, pattern="^(district|station)$"),
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WarehousePage:
    query = select(warehouses).order_by(warehouses.c.code).limit(limit + 1)
    if town:
        query = query.where(warehouses.c.town == town)
    if kind:
        query = query.where(warehouses.c.kind == kind)
    if active is not None:
        query = query.where(warehouses.c.active == active)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(warehouses.c.code > str(after))
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    return WarehousePage(
        items=[_warehouse_out(r) for r in page],
        next_cursor=encode_cursor(page[-1].code) if len(rows) > limit else None,
    )


@router.get(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="仓库详情",
    responses=raises(NO_WAREHOUSE),
)
async def get_warehouse(code: str, runtime: RuntimeDep, _: StaffPrincipal = Reader) -> WarehouseOut:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(warehouses).where(warehouses.c.code == code))).first()
    if row is None:
        raise NotFound(f"仓库不存在：{code} (warehouse not found)")
    return _warehouse_out(row)


@router.patch(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="修改仓库（乐观锁 version）",
    responses=raises(NO_WAREHOUSE, STALE),
)
async def update_warehouse(
    code: str, body: WarehouseUpdate, runtime: RuntimeDep, staff: StaffPrincipal = Keeper
) -> WarehouseOut:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if not changes:
        raise ValidationFailed("没有要修改的字段 (nothing to change)")
    async with runtime.unit_of_work() as uow:
        await catalogue.update_warehouse(
            uow, code, changes, version=body.version, actor=staff.username
        )
        row = (await uow.session.execute(select(warehouses).where(warehouses.c.code == code))).one()
        out = _warehouse_out(row)
        await uow.commit()
    return out


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    summary="新建物资",
    responses=raises((Conflict, "The item code exists"), POST_CONFLICT),
)
async def create_item(
    body: ItemCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_item(uow, body.model_dump(), actor=staff.username)
        row = (await uow.session.execute(select(items).where(items.c.code == body.code))).one()
        return 201, _item_out(row).model_dump(mode="json")

    return await idempotent_post(
        runtime, staff, key, "/api/v1/items", body.model_dump(mode="json"), action
    )


@router.get("/items", response_model=ItemPage, summary="物资目录")
async def list_items(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    category: str | None = Query(None, max_length=20),
    q: str | None = Query(None, max_length=50, description="名称或编码包含 (name/code contains)"),
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ItemPage:
    query = select(items).order_by(items.c.code).limit(limit + 1)
    if category:
        query = query.where(items.c.category == category)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(items.c.name.ilike(pattern) | items.c.code.ilike(pattern))
    if active is not None:
        query = query.where(items.c.active == active)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(items.c.code > str(after))
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    return ItemPage(
        items=[_item_out(r) for r in page],
        next_cursor=encode_cursor(page[-1].code) if len(rows) > limit else None,
    )


@router.get("/items/{code}", response_model=ItemOut, summary="物资详情", responses=raises(NO_ITEM))
async def get_item(code: str, runtime: RuntimeDep, _: StaffPrincipal = Reader) -> ItemOut:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(items).where(items.c.code == code))).first()
    if row is None:
        raise NotFound(f"物资不存在：{code} (item not found)")
    return _item_out(row)


@router.patch(
    "/items/{code}",
    response_model=ItemOut,
    summary="修改物资（乐观锁 version）",
    responses=raises(NO_ITEM, STALE),
)
async def update_item(
    code: str, body: ItemUpdate, runtime: RuntimeDep, staff: StaffPrincipal = Keeper
) -> ItemOut:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if not changes:
        raise ValidationFailed("没有要修改的字段 (nothing to change)")
    async with runtime.unit_of_work() as uow:
        await catalogue.update_item(uow, code, changes, version=body.version, actor=staff.username)
        row = (await uow.session.execute(select(items).where(items.c.code == code))).one()
        out = _item_out(row)
        await uow.commit()
    return out


@router.post(
    "/safety-stocks",
    summary="设置某仓库某物资的安全库存",
    responses=raises((NotFound, "The warehouse or item named does not exist"), POST_CONFLICT),
)
async def set_safety_stock(
    body: SafetyStockSet, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.set_safety_stock(
            uow, body.warehouse_code, body.item_code, body.safety_stock, actor=staff.username
        )
        return 200, body.model_dump(mode="json")

    return await idempotent_post(
        runtime, staff, key, "/api/v1/safety-stocks", body.model_dump(mode="json"), action
    )
