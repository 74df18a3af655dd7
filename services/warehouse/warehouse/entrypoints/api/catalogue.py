"""``/api/v1/warehouses`` and ``/api/v1/items``: places and the relief-item catalogue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, select

from shared.auth import StaffPrincipal
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import Declared, raises
from shared.pagination import Cursor, Limit, decode_cursor, read_page
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.adapters.orm import items, warehouses
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    Keeper,
    Reader,
    versioned,
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


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Entries(Generic[M]):
    """Warehouses and items alike: rows known by a unique ``code``, shown as ``model``."""

    table: Table
    model: type[M]
    not_found: str  # the 404 message, with {code}

    def out(self, row: Any) -> M:
        return self.model.model_validate(row, from_attributes=True)


WAREHOUSES = _Entries(warehouses, WarehouseOut, "仓库不存在：{code} (warehouse not found)")
ITEMS = _Entries(items, ItemOut, "物资不存在：{code} (item not found)")


def _with_code(entries: _Entries[M], code: str) -> Any:
    return select(entries.table).where(entries.table.c.code == code)


async def _created(
    uow: SqlUnitOfWork, entries: _Entries[M], code: str
) -> tuple[int, dict[str, Any]]:
    """The answer to a create: 201 with the entry just written."""
    row = (await uow.session.execute(_with_code(entries, code))).one()
    return 201, entries.out(row).model_dump(mode="json")


async def _get(runtime: ServiceRuntime, entries: _Entries[M], code: str, response: Response) -> M:
    """The entry, its version as the ETag."""
    async with runtime.session_factory() as session:
        row = (await session.execute(_with_code(entries, code))).first()
    if row is None:
        raise NotFound(entries.not_found.format(code=code))
    response.headers.update(etag(row.version))
    return entries.out(row)


async def _update(
    runtime: ServiceRuntime,
    entries: _Entries[M],
    code: str,
    body: WarehouseUpdate | ItemUpdate,
    response: Response,
    update: Callable[[SqlUnitOfWork, dict[str, Any]], Awaitable[None]],
) -> M:
    """PATCH with optimistic locking: ``update`` gets the fields sent (``version`` aside) in one
    unit of work; the answer is the entry as committed, its new version as the ETag."""
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if not changes:
        raise ValidationFailed("没有要修改的字段 (nothing to change)")
    async with runtime.unit_of_work() as uow:
        await update(uow, changes)
        row = (await uow.session.execute(_with_code(entries, code))).one()
        out = entries.out(row)
        await uow.commit()
    response.headers.update(etag(row.version))
    return out


async def _page(
    runtime: ServiceRuntime, entries: _Entries[M], query: Any, limit: int, cursor: str | None
) -> tuple[list[M], str | None]:
    """One page of ``query`` in code order, after the code in ``cursor``; the next cursor."""
    table = entries.table
    query = query.order_by(table.c.code)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(table.c.code > str(after))
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(session, query, limit, lambda r: [r.code])
    return [entries.out(r) for r in page], next_cursor


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseOut,
    summary="新建仓库/救灾站",
    responses=versioned((Conflict, "The warehouse code exists"), POST_CONFLICT, status=201),
)
async def create_warehouse(
    body: WarehouseCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_warehouse(uow, body.model_dump(), actor=staff.username)
        return await _created(uow, WAREHOUSES, body.code)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/warehouses",
        payload=body.model_dump(mode="json"),
        action=action,
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
    query = select(warehouses)
    if town:
        query = query.where(warehouses.c.town == town)
    if kind:
        query = query.where(warehouses.c.kind == kind)
    if active is not None:
        query = query.where(warehouses.c.active == active)
    page, next_cursor = await _page(runtime, WAREHOUSES, query, limit, cursor)
    return WarehousePage(items=page, next_cursor=next_cursor)


@router.get(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="仓库详情",
    responses=versioned(NO_WAREHOUSE),
)
async def get_warehouse(
    code: str, runtime: RuntimeDep, response: Response, _: StaffPrincipal = Reader
) -> WarehouseOut:
    return await _get(runtime, WAREHOUSES, code, response)


@router.patch(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="修改仓库（乐观锁 version）",
    responses=versioned(NO_WAREHOUSE, STALE),
)
async def update_warehouse(
    code: str,
    body: WarehouseUpdate,
    runtime: RuntimeDep,
    response: Response,
    staff: StaffPrincipal = Keeper,
) -> WarehouseOut:
    return await _update(
        runtime,
        WAREHOUSES,
        code,
        body,
        response,
        lambda uow, changes: catalogue.update_warehouse(
            uow, code, changes, version=body.version, actor=staff.username
        ),
    )


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    summary="新建物资",
    responses=versioned((Conflict, "The item code exists"), POST_CONFLICT, status=201),
)
async def create_item(
    body: ItemCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_item(uow, body.model_dump(), actor=staff.username)
        return await _created(uow, ITEMS, body.code)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/items",
        payload=body.model_dump(mode="json"),
        action=action,
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
    query = select(items)
    if category:
        query = query.where(items.c.category == category)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(items.c.name.ilike(pattern) | items.c.code.ilike(pattern))
    if active is not None:
        query = query.where(items.c.active == active)
    page, next_cursor = await _page(runtime, ITEMS, query, limit, cursor)
    return ItemPage(items=page, next_cursor=next_cursor)


@router.get(
    "/items/{code}", response_model=ItemOut, summary="物资详情", responses=versioned(NO_ITEM)
)
async def get_item(
    code: str, runtime: RuntimeDep, response: Response, _: StaffPrincipal = Reader
) -> ItemOut:
    return await _get(runtime, ITEMS, code, response)


@router.patch(
    "/items/{code}",
    response_model=ItemOut,
    summary="修改物资（乐观锁 version）",
    responses=versioned(NO_ITEM, STALE),
)
async def update_item(
    code: str,
    body: ItemUpdate,
    runtime: RuntimeDep,
    response: Response,
    staff: StaffPrincipal = Keeper,
) -> ItemOut:
    return await _update(
        runtime,
        ITEMS,
        code,
        body,
        response,
        lambda uow, changes: catalogue.update_item(
            uow, code, changes, version=body.version, actor=staff.username
        ),
    )


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

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/safety-stocks",
        payload=body.model_dump(mode="json"),
        action=action,
    )
