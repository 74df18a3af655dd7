"""``/api/v1/stock``, ``/api/v1/lots``, the stock card, stock counts and CSV exports."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from shared.auth import StaffPrincipal
from shared.csv_safe import SafeWriter
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit
from shared.uow import SqlUnitOfWork
from warehouse.domain.commands import CountLine, RecordStockCount
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    POST_CONFLICT,
    Keeper,
    Reader,
    settings_of,
)
from warehouse.entrypoints.api.schemas import (
    LotPage,
    MovementPage,
    StockCountCreate,
    StockCountOut,
    StockCountPage,
    StockPage,
)
from warehouse.service_layer.counts import record_count
from warehouse.service_layer.queries import stock as queries
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1", tags=["stock 库存"])


@router.get(
    "/stock",
    response_model=StockPage,
    summary="库存（按仓库+物资）",
    responses=raises(OTHER_ORG_READ),
)
async def list_stock(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    category: str | None = Query(None, max_length=20),
    below_safety_stock: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StockPage:
    async with runtime.session_factory() as session:
        return await queries.list_stock(
            session,
            warehouse_code=warehouse_code,
            item_code=item_code,
            category=category,
            below_safety_stock=below_safety_stock,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


def _csv(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # formula-like text cells neutralised (CSV injection)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM: Excel opens UTF-8 Chinese correctly
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/stock/export.csv",
    summary="导出库存 CSV",
    response_class=Response,
    responses=raises(OTHER_ORG_READ),
)
async def export_stock(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    category: str | None = Query(None, max_length=20),
    below_safety_stock: bool | None = None,
) -> Response:
    async with runtime.session_factory() as session:
        rows = await queries.stock_csv_rows(
            session,
            warehouse_code=warehouse_code,
            item_code=item_code,
            category=category,
            below_safety_stock=below_safety_stock,
            scope=read_scope(staff),
        )
    return _csv(queries.STOCK_CSV_COLUMNS, rows, "stock.csv")


@router.get(
    "/lots",
    response_model=LotPage,
    summary="批次列表（按效期先后）",
    responses=raises(OTHER_ORG_READ),
)
async def list_lots(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    donation_id: uuid.UUID | None = None,
    expiring_before: date | None = Query(None, description="效期早于（含）该日"),
    in_stock: bool = Query(True, description="只列在库批次 (on_hand > 0)"),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LotPage:
    async with runtime.session_factory() as session:
        return await queries.list_lots(
            session,
            warehouse_code=warehouse_code,
            item_code=item_code,
            donation_id=donation_id,
            expiring_before=expiring_before,
            in_stock=in_stock,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/stock/card",
    response_model=MovementPage,
    summary="库存卡片 (stock card: same as /stock/movements)",
    responses=raises(OTHER_ORG_READ),
)
@router.get(
    "/stock/movements",
    response_model=MovementPage,
    summary="库存卡片/流水：每次变动及结存 (stock card with running balance)",
    responses=raises(OTHER_ORG_READ),
)
async def list_movements(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    lot_id: uuid.UUID | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MovementPage:
    async with runtime.session_factory() as session:
        return await queries.list_movements(
            session,
            warehouse_code=warehouse_code,
            item_code=item_code,
            lot_id=lot_id,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/stock/movements/export.csv",
    summary="导出库存流水 CSV",
    response_class=Response,
    responses=raises(OTHER_ORG_READ),
)
async def export_movements(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    lot_id: uuid.UUID | None = None,
) -> Response:
    async with runtime.session_factory() as session:
        rows = await queries.movement_csv_rows(
            session,
            warehouse_code=warehouse_code,
            item_code=item_code,
            lot_id=lot_id,
            scope=read_scope(staff),
        )
    return _csv(queries.MOVEMENT_CSV_COLUMNS, rows, "stock-movements.csv")


@router.post(
    "/stock-counts",
    status_code=201,
    response_model=StockCountOut,
    summary="盘点（差异须有原因代码）",
    responses=raises(
        (NotFound, "The warehouse, an item or a lot named does not exist"),
        (Conflict, "A lot counted below its reserved quantity"),
        OTHER_ORG_WRITE,
        POST_CONFLICT,
    ),
)
async def create_stock_count(
    body: StockCountCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    command = RecordStockCount(
        warehouse_code=body.warehouse_code,
        lines=tuple(CountLine(**line.model_dump()) for line in body.lines),
        actor=staff.username,
        actor_org=staff.org,
        note=body.note,
        four_eyes_above_fen=settings_of(runtime).write_off_four_eyes_fen,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        count_id, _ = await record_count(uow, command)
        return 201, await queries.recorded_count(uow.session, count_id)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/stock-counts",
        payload=body.model_dump(mode="json"),
        action=action,
    )


@router.get(
    "/stock-counts",
    response_model=StockCountPage,
    summary="盘点记录（最新在前）",
    responses=raises(OTHER_ORG_READ),
)
async def list_stock_counts(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> StockCountPage:
    async with runtime.session_factory() as session:
        return await queries.list_stock_counts(
            session,
            warehouse_code=warehouse_code,
            limit=limit,
            cursor=cursor,
            scope=read_scope(staff),
        )


@router.get(
    "/stock-counts/{count_id}",
    response_model=StockCountOut,
    summary="盘点详情",
    responses=raises((NotFound, "No such stock count"), OTHER_ORG_READ),
)
async def get_stock_count(
    count_id: uuid.UUID, runtime: RuntimeDep, staff: StaffPrincipal = Reader
) -> StockCountOut:
    async with runtime.session_factory() as session:
        return await queries.get_stock_count(session, count_id, scope=read_scope(staff))
