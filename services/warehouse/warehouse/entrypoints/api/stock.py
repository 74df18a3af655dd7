"""``/api/v1/stock``, ``/api/v1/lots``, the stock card, stock counts and CSV exports."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import and_, case, func, or_, select

from shared.auth import StaffPrincipal
from shared.csv_safe import SafeWriter
from shared.errors import Conflict, NotFound
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent
from shared.openapi import raises
from shared.pagination import Cursor, Limit, decode_cursor, read_page
from shared.uow import SqlUnitOfWork
from warehouse.adapters.orm import (
    items,
    lots,
    stock_adjustments,
    stock_counts,
    stock_levels,
    stock_movements,
    warehouses,
)
from warehouse.domain.model import local_today
from warehouse.entrypoints.api.deps import (
    POST_CONFLICT,
    Keeper,
    Reader,
)
from warehouse.entrypoints.api.schemas import (
    LotOut,
    LotPage,
    MovementOut,
    MovementPage,
    StockCountCreate,
    StockCountOut,
    StockCountPage,
    StockLevelOut,
    StockPage,
)
from warehouse.service_layer.counts import CountLine, StockCount, record_count
from warehouse.service_layer.stock import expired_lot, expired_units_by_level

router = APIRouter(prefix="/api/v1", tags=["stock 库存"])

CSV_MAX_ROWS = 100_000


def _level_query(
    warehouse_code: str | None, item_code: str | None, category: str | None, below: bool | None
) -> Any:
    """Levels as of now: units in lots past their expiry date today (Asia/Shanghai) are on hand
    but not available, whether or not the level was re-published since they expired."""
    current = expired_units_by_level(local_today())
    expired = func.coalesce(current.c.expired, 0)
    # warehouse.domain.model.available_stock, in SQL
    available = stock_levels.c.on_hand - stock_levels.c.reserved - expired
    query = (
        select(
            warehouses.c.code.label("warehouse_code"),
            warehouses.c.name.label("warehouse_name"),
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.category,
            items.c.unit,
            stock_levels.c.on_hand,
            stock_levels.c.reserved,
            expired.label("expired"),
            available.label("available"),
            stock_levels.c.safety_stock,
            (available < stock_levels.c.safety_stock).label("below_safety_stock"),
            stock_levels.c.version,
        )
        .join(warehouses, warehouses.c.id == stock_levels.c.warehouse_id)
        .join(items, items.c.id == stock_levels.c.item_id)
        .outerjoin(
            current,
            and_(
                current.c.warehouse_id == stock_levels.c.warehouse_id,
                current.c.item_id == stock_levels.c.item_id,
            ),
        )
    )
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if item_code:
        query = query.where(items.c.code == item_code)
    if category:
        query = query.where(items.c.category == category)
    if below is not None:
        query = query.where((available < stock_levels.c.safety_stock) == below)
    return query.order_by(warehouses.c.code, items.c.code)


@router.get("/stock", response_model=StockPage, summary="库存（按仓库+物资）")
async def list_stock(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    category: str | None = Query(None, max_length=20),
    below_safety_stock: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StockPage:
    query = _level_query(warehouse_code, item_code, category, below_safety_stock)
    if cursor:
        wh, it = decode_cursor(cursor, 2)
        query = query.where(
            or_(
                warehouses.c.code > str(wh),
                and_(warehouses.c.code == str(wh), items.c.code > str(it)),
            )
        )
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(
            session, query, limit, lambda r: [r.warehouse_code, r.item_code]
        )
    return StockPage(
        items=[StockLevelOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
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


@router.get("/stock/export.csv", summary="导出库存 CSV", response_class=Response)
async def export_stock(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    category: str | None = Query(None, max_length=20),
    below_safety_stock: bool | None = None,
) -> Response:
    query = _level_query(warehouse_code, item_code, category, below_safety_stock).limit(
        CSV_MAX_ROWS
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    header = [
        "warehouse_code",
        "warehouse_name",
        "item_code",
        "item_name",
        "category",
        "unit",
        "on_hand",
        "reserved",
        "available",
        "safety_stock",
        "below_safety_stock",
        "expired",  # added last: existing columns keep their positions
    ]
    return _csv(header, [[getattr(r, h) for h in header] for r in rows], "stock.csv")


def _lot_query() -> Any:
    """Lots as of now: an expired lot (Asia/Shanghai day) has nothing available."""
    expired = expired_lot(local_today())
    unreserved = lots.c.on_hand - lots.c.reserved
    return (
        select(
            lots,
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.unit,
            warehouses.c.code.label("warehouse_code"),
            func.coalesce(expired, False).label("expired"),
            case((expired, 0), else_=unreserved).label("available"),
        )
        .join(items, items.c.id == lots.c.item_id)
        .join(warehouses, warehouses.c.id == lots.c.warehouse_id)
    )


@router.get("/lots", response_model=LotPage, summary="批次列表（按效期先后）")
async def list_lots(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    donation_id: uuid.UUID | None = None,
    expiring_before: date | None = Query(None, description="效期早于（含）该日"),
    in_stock: bool = Query(True, description="只列在库批次 (on_hand > 0)"),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LotPage:
    query = _lot_query()
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if item_code:
        query = query.where(items.c.code == item_code)
    if donation_id:
        query = query.where(lots.c.donation_id == donation_id)
    if expiring_before:
        query = query.where(lots.c.expiry_date <= expiring_before)
    if in_stock:
        query = query.where(lots.c.on_hand > 0)
    # keyset on (expiry, id) with lots without expiry last: map null to a far date
    far = date(9999, 12, 31)
    expiry_key = func.coalesce(lots.c.expiry_date, far)
    if cursor:
        exp, last = decode_cursor(cursor, 2, date.fromisoformat, uuid.UUID)
        query = query.where(or_(expiry_key > exp, and_(expiry_key == exp, lots.c.id > last)))
    query = query.order_by(expiry_key, lots.c.id)
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(
            session, query, limit, lambda r: [(r.expiry_date or far).isoformat(), str(r.id)]
        )
    return LotPage(
        items=[LotOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


def _movement_query(
    warehouse_code: str | None, item_code: str | None, lot_id: uuid.UUID | None
) -> Any:
    query = (
        select(
            stock_movements,
            warehouses.c.code.label("warehouse_code"),
            items.c.code.label("item_code"),
            lots.c.lot_no,
            stock_movements.c.on_hand_after.label("balance"),
        )
        .join(warehouses, warehouses.c.id == stock_movements.c.warehouse_id)
        .join(items, items.c.id == stock_movements.c.item_id)
        .outerjoin(lots, lots.c.id == stock_movements.c.lot_id)
    )
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if item_code:
        query = query.where(items.c.code == item_code)
    if lot_id:
        query = query.where(stock_movements.c.lot_id == lot_id)
    return query


@router.get(
    "/stock/card",
    response_model=MovementPage,
    summary="库存卡片 (stock card: same as /stock/movements)",
)
@router.get(
    "/stock/movements",
    response_model=MovementPage,
    summary="库存卡片/流水：每次变动及结存 (stock card with running balance)",
)
async def list_movements(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    lot_id: uuid.UUID | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MovementPage:
    query = _movement_query(warehouse_code, item_code, lot_id)
    if cursor:
        (after,) = decode_cursor(cursor, 1, int)
        query = query.where(stock_movements.c.seq > after)
    query = query.order_by(stock_movements.c.seq)
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(session, query, limit, lambda r: [r.seq])
    return MovementPage(
        items=[MovementOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


@router.get("/stock/movements/export.csv", summary="导出库存流水 CSV", response_class=Response)
async def export_movements(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    item_code: str | None = Query(None, max_length=64),
    lot_id: uuid.UUID | None = None,
) -> Response:
    query = (
        _movement_query(warehouse_code, item_code, lot_id)
        .order_by(stock_movements.c.seq)
        .limit(CSV_MAX_ROWS)
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    header = [
        "seq",
        "at",
        "warehouse_code",
        "item_code",
        "lot_no",
        "movement",
        "on_hand_delta",
        "reserved_delta",
        "balance",
        "reserved_after",
        "reference_type",
        "reference_no",
        "note",
        "actor",
    ]
    return _csv(header, [[getattr(r, h) for h in header] for r in rows], "stock-movements.csv")


@router.post(
    "/stock-counts",
    status_code=201,
    response_model=StockCountOut,
    summary="盘点（差异须有原因代码）",
    responses=raises(
        (NotFound, "The warehouse, an item or a lot named does not exist"),
        (Conflict, "A lot counted below its reserved quantity"),
        POST_CONFLICT,
    ),
)
async def create_stock_count(
    body: StockCountCreate, runtime: RuntimeDep, key: IdempotencyKey, staff: StaffPrincipal = Keeper
) -> JSONResponse:
    command = StockCount(
        warehouse_code=body.warehouse_code,
        lines=[CountLine(**line.model_dump()) for line in body.lines],
        actor=staff.username,
        note=body.note,
    )

    async def action(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        count_id, _ = await record_count(uow, command)
        row = (await uow.session.execute(_count_query().where(stock_counts.c.id == count_id))).one()
        out = await _count_out(uow.session, row)
        return 201, out.model_dump(mode="json")

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/stock-counts",
        payload=body.model_dump(mode="json"),
        action=action,
    )


async def _count_out(session: Any, count: Any) -> StockCountOut:
    adjustments = (
        await session.execute(
            select(stock_adjustments, lots.c.lot_no, items.c.code.label("item_code"))
            .join(lots, lots.c.id == stock_adjustments.c.lot_id)
            .join(items, items.c.id == lots.c.item_id)
            .where(stock_adjustments.c.stock_count_id == count.id)
            .order_by(stock_adjustments.c.at, stock_adjustments.c.id)
        )
    ).all()
    return StockCountOut(
        id=count.id,
        warehouse_code=count.warehouse_code,
        counted_by=count.counted_by,
        counted_at=count.counted_at,
        adjustments=[
            {
                "id": str(a.id),
                "lot_id": str(a.lot_id),
                "lot_no": a.lot_no,
                "item_code": a.item_code,
                "reason": a.reason,
                "quantity_before": a.quantity_before,
                "quantity_after": a.quantity_after,
                "delta": a.quantity_after - a.quantity_before,
                "note": a.note,
            }
            for a in adjustments
        ],
    )


def _count_query() -> Any:
    return select(stock_counts, warehouses.c.code.label("warehouse_code")).join(
        warehouses, warehouses.c.id == stock_counts.c.warehouse_id
    )


@router.get("/stock-counts", response_model=StockCountPage, summary="盘点记录（最新在前）")
async def list_stock_counts(
    runtime: RuntimeDep,
    _: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> StockCountPage:
    query = _count_query()
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if cursor:
        (before,) = decode_cursor(cursor, 1, uuid.UUID)
        query = query.where(stock_counts.c.id < before)
    query = query.order_by(stock_counts.c.id.desc())
    async with runtime.session_factory() as session:
        page, next_cursor = await read_page(session, query, limit, lambda r: [str(r.id)])
        out = [await _count_out(session, r) for r in page]
    return StockCountPage(items=out, next_cursor=next_cursor)


@router.get(
    "/stock-counts/{count_id}",
    response_model=StockCountOut,
    summary="盘点详情",
    responses=raises((NotFound, "No such stock count")),
)
async def get_stock_count(
    count_id: uuid.UUID, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> StockCountOut:
    async with runtime.session_factory() as session:
        row = (await session.execute(_count_query().where(stock_counts.c.id == count_id))).first()
        if row is None:
            raise NotFound(f"盘点记录不存在 (stock count {count_id} not found)")
        return await _count_out(session, row)
