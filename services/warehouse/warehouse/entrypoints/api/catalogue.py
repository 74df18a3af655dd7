"""``/api/v1/warehouses`` and ``/api/v1/items``: places and the relief-item catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from shared.auth import StaffPrincipal
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import Declared, raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from shared.versions import etag
from warehouse.domain.commands import (
    CreateItem,
    CreateWarehouse,
    SetSafetyStock,
    UpdateItem,
    UpdateWarehouse,
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
from warehouse.service_layer.queries import catalogue as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1", tags=["catalogue 仓库与物资目录"])

NO_WAREHOUSE: Declared = (NotFound, "No such warehouse")
NO_ITEM: Declared = (NotFound, "No such item")
STALE: Declared = (Conflict, "Version mismatch (the body's version is not the current one)")


def _changes(body: WarehouseUpdate | ItemUpdate) -> dict[str, Any]:
    """The fields a PATCH sent (``version`` aside)."""
    return body.model_dump(exclude_unset=True, exclude={"version"})


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseOut,
    summary="新建仓库/救灾站",
    responses=versioned(
        (Conflict, "The warehouse code exists"),
        (Forbidden, "权限不足，或该组织不是您的 (roles, or an organisation not yours)"),
        (ValidationFailed, "Unknown town or organisation, or a station without its town"),
        POST_CONFLICT,
        status=201,
    ),
)
async def create_warehouse(
    body: WarehouseCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    command = CreateWarehouse(**body.model_dump(), actor=staff.username, actor_org=staff.org)

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_warehouse(uow, command)
        return 201, await queries.created_warehouse(uow.session, body.code)

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
    staff: StaffPrincipal = Reader,
    town: str | None = Query(None, max_length=20),
    kind: str | None = Query(None, pattern="^(district|station)$"),
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WarehousePage:
    async with runtime.session_factory() as session:
        return await queries.list_warehouses(
            session,
            town=town,
            kind=kind,
            active=active,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="仓库详情",
    responses=versioned(NO_WAREHOUSE, OTHER_ORG_READ),
)
async def get_warehouse(
    code: str, runtime: RuntimeDep, response: Response, staff: StaffPrincipal = Reader
) -> WarehouseOut:
    async with runtime.session_factory() as session:
        out = await queries.get_warehouse(session, code, scope=read_scope(staff))
    response.headers.update(etag(out.version))
    return out


@router.patch(
    "/warehouses/{code}",
    response_model=WarehouseOut,
    summary="修改仓库（乐观锁 version）",
    responses=versioned(NO_WAREHOUSE, STALE, OTHER_ORG_WRITE),
)
async def update_warehouse(
    code: str,
    body: WarehouseUpdate,
    runtime: RuntimeDep,
    response: Response,
    staff: StaffPrincipal = Keeper,
) -> WarehouseOut:
    command = UpdateWarehouse(
        code, _changes(body), body.version, staff.username, actor_org=staff.org
    )
    async with runtime.unit_of_work() as uow:
        await catalogue.update_warehouse(uow, command)
        out = await queries.get_warehouse(uow.session, code, scope=None)  # changed: reached
        await uow.commit()
    response.headers.update(etag(out.version))
    return out


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
    command = CreateItem(**body.model_dump(), actor=staff.username)

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.create_item(uow, command)
        return 201, await queries.created_item(uow.session, body.code)

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
    async with runtime.session_factory() as session:
        return await queries.list_items(
            session, category=category, q=q, active=active, limit=limit, cursor=cursor
        )


@router.get(
    "/items/{code}", response_model=ItemOut, summary="物资详情", responses=versioned(NO_ITEM)
)
async def get_item(
    code: str, runtime: RuntimeDep, response: Response, _: StaffPrincipal = Reader
) -> ItemOut:
    async with runtime.session_factory() as session:
        out = await queries.get_item(session, code)
    response.headers.update(etag(out.version))
    return out


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
    command = UpdateItem(code, _changes(body), body.version, staff.username)
    async with runtime.unit_of_work() as uow:
        await catalogue.update_item(uow, command)
        out = await queries.get_item(uow.session, code)
        await uow.commit()
    response.headers.update(etag(out.version))
    return out


@router.post(
    "/safety-stocks",
    summary="设置某仓库某物资的安全库存",
    responses=raises(
        (NotFound, "The warehouse or item named does not exist"), OTHER_ORG_WRITE, POST_CONFLICT
    ),
)
async def set_safety_stock(
    body: SafetyStockSet, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    command = SetSafetyStock(**body.model_dump(), actor=staff.username, actor_org=staff.org)

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await catalogue.set_safety_stock(uow, command)
        return 200, body.model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/safety-stocks",
        payload=body.model_dump(mode="json"),
        action=action,
    )
