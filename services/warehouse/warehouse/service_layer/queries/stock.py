"""Reads of stock: levels, lots, the stock card (movements), stock counts, and the rows of
the CSV exports.

Levels and lots are read as of now: units in lots past their expiry date today
(Asia/Shanghai) are on hand but not available.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.pagination import decode_cursor, read_page
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
from warehouse.entrypoints.api.schemas import (
    LotOut,
    LotPage,
    MovementOut,
    MovementPage,
    StockAdjustmentOut,
    StockAdjustmentPage,
    StockCountOut,
    StockCountPage,
    StockLevelOut,
    StockPage,
)
from warehouse.service_layer import scope as scope_rule
from warehouse.service_layer.stock import expired_lot, expired_units_by_level

CSV_MAX_ROWS = 100_000

STOCK_CSV_COLUMNS = [
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
MOVEMENT_CSV_COLUMNS = [
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


def _level_query(
    warehouse_code: str | None,
    item_code: str | None,
    category: str | None,
    below: bool | None,
    scope: str | None,
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
    query = scope_rule.within(query, scope, warehouses.c.org_code)
    return query.order_by(warehouses.c.code, items.c.code)


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


def _movement_query(
    warehouse_code: str | None, item_code: str | None, lot_id: uuid.UUID | None, scope: str | None
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
    return scope_rule.within(query, scope, warehouses.c.org_code)


def _count_query() -> Any:
    return select(
        stock_counts, warehouses.c.code.label("warehouse_code"), warehouses.c.org_code
    ).join(warehouses, warehouses.c.id == stock_counts.c.warehouse_id)


async def _count_out(session: AsyncSession, count: Any) -> StockCountOut:
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
                "delta": a.delta,
                "note": a.note,
                # a write-off above the four-eyes threshold waits for a second person
                "status": a.status,
                "value_fen": a.value_fen,
            }
            for a in adjustments
        ],
    )


async def list_stock(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    item_code: str | None,
    category: str | None,
    below_safety_stock: bool | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> StockPage:
    """Levels in warehouse, then item code order (of the warehouses ``scope`` sees)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = _level_query(warehouse_code, item_code, category, below_safety_stock, scope)
    if cursor:
        wh, it = decode_cursor(cursor, 2)
        query = query.where(
            or_(
                warehouses.c.code > str(wh),
                and_(warehouses.c.code == str(wh), items.c.code > str(it)),
            )
        )
    page, next_cursor = await read_page(
        session, query, limit, lambda r: [r.warehouse_code, r.item_code]
    )
    return StockPage(
        items=[StockLevelOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


async def stock_csv_rows(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    item_code: str | None,
    category: str | None,
    below_safety_stock: bool | None,
    scope: str | None,
) -> list[list[Any]]:
    """The levels as CSV rows of :data:`STOCK_CSV_COLUMNS` (at most ``CSV_MAX_ROWS``)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = _level_query(warehouse_code, item_code, category, below_safety_stock, scope).limit(
        CSV_MAX_ROWS
    )
    rows = (await session.execute(query)).all()
    return [[getattr(r, h) for h in STOCK_CSV_COLUMNS] for r in rows]


async def list_lots(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    item_code: str | None,
    donation_id: uuid.UUID | None,
    expiring_before: date | None,
    in_stock: bool,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> LotPage:
    """Lots, the earliest expiry first (lots without expiry last), of the warehouses
    ``scope`` sees."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = scope_rule.within(_lot_query(), scope, warehouses.c.org_code)
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
    page, next_cursor = await read_page(
        session, query, limit, lambda r: [(r.expiry_date or far).isoformat(), str(r.id)]
    )
    return LotPage(
        items=[LotOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


async def list_movements(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    item_code: str | None,
    lot_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> MovementPage:
    """The stock card: movements in order, each with the balance after it (of the warehouses
    ``scope`` sees)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = _movement_query(warehouse_code, item_code, lot_id, scope)
    if cursor:
        (after,) = decode_cursor(cursor, 1, int)
        query = query.where(stock_movements.c.seq > after)
    query = query.order_by(stock_movements.c.seq)
    page, next_cursor = await read_page(session, query, limit, lambda r: [r.seq])
    return MovementPage(
        items=[MovementOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )


async def movement_csv_rows(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    item_code: str | None,
    lot_id: uuid.UUID | None,
    scope: str | None,
) -> list[list[Any]]:
    """The movements as CSV rows of :data:`MOVEMENT_CSV_COLUMNS` (at most ``CSV_MAX_ROWS``)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = (
        _movement_query(warehouse_code, item_code, lot_id, scope)
        .order_by(stock_movements.c.seq)
        .limit(CSV_MAX_ROWS)
    )
    rows = (await session.execute(query)).all()
    return [[getattr(r, h) for h in MOVEMENT_CSV_COLUMNS] for r in rows]


async def recorded_count(session: AsyncSession, count_id: uuid.UUID) -> dict[str, Any]:
    """The stock count just recorded, JSON-ready (the answer to recording it)."""
    row = (await session.execute(_count_query().where(stock_counts.c.id == count_id))).one()
    return (await _count_out(session, row)).model_dump(mode="json")


async def list_stock_counts(
    session: AsyncSession,
    *,
    warehouse_code: str | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> StockCountPage:
    """Stock counts, the latest first (of the warehouses ``scope`` sees)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = scope_rule.within(_count_query(), scope, warehouses.c.org_code)
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if cursor:
        (before,) = decode_cursor(cursor, 1, uuid.UUID)
        query = query.where(stock_counts.c.id < before)
    query = query.order_by(stock_counts.c.id.desc())
    page, next_cursor = await read_page(session, query, limit, lambda r: [str(r.id)])
    out = [await _count_out(session, r) for r in page]
    return StockCountPage(items=out, next_cursor=next_cursor)


async def get_stock_count(
    session: AsyncSession, count_id: uuid.UUID, *, scope: str | None
) -> StockCountOut:
    """One stock count with its adjustments; 404 if there is none, 403 if it is of a
    warehouse ``scope`` may not see."""
    row = (await session.execute(_count_query().where(stock_counts.c.id == count_id))).first()
    if row is None:
        raise NotFound(f"盘点记录不存在 (stock count {count_id} not found)")
    await scope_rule.ensure_sees(session, scope, row.warehouse_code, row.org_code)
    return await _count_out(session, row)


# --------------------------------------------------------------------------- write-offs


def _adjustment_query() -> Any:
    return (
        select(
            stock_adjustments,
            lots.c.lot_no,
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.unit,
            warehouses.c.code.label("warehouse_code"),
            warehouses.c.org_code,
        )
        .join(lots, lots.c.id == stock_adjustments.c.lot_id)
        .join(items, items.c.id == lots.c.item_id)
        .join(warehouses, warehouses.c.id == lots.c.warehouse_id)
    )


def _adjustment_out(row: Any) -> StockAdjustmentOut:
    return StockAdjustmentOut(
        id=row.id,
        stock_count_id=row.stock_count_id,
        lot_id=row.lot_id,
        lot_no=row.lot_no,
        item_code=row.item_code,
        item_name=row.item_name,
        unit=row.unit,
        warehouse_code=row.warehouse_code,
        reason=row.reason,
        status=row.status,
        quantity_before=row.quantity_before,
        quantity_after=row.quantity_after,
        delta=row.delta,
        value_fen=row.value_fen,
        note=row.note,
        counted_by=row.actor,
        counted_at=row.at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decided_reason=row.decided_reason,
        version=row.version,
    )


async def adjustment_body(
    session: AsyncSession, adjustment_id: uuid.UUID, *, scope: str | None = None
) -> dict[str, Any]:
    """One stock adjustment, JSON-ready; 404 if there is none, 403 if it is of a warehouse
    ``scope`` may not see."""
    row = (
        await session.execute(_adjustment_query().where(stock_adjustments.c.id == adjustment_id))
    ).first()
    if row is None:
        raise NotFound(f"库存调整不存在 (stock adjustment {adjustment_id} not found)")
    await scope_rule.ensure_sees(session, scope, row.warehouse_code, row.org_code)
    return _adjustment_out(row).model_dump(mode="json")


async def list_adjustments(
    session: AsyncSession,
    *,
    status: str | None,
    warehouse_code: str | None,
    scope: str | None,
    limit: int,
    cursor: str | None,
) -> StockAdjustmentPage:
    """Stock adjustments, the latest first (``status=pending``: the write-offs awaiting a
    second person), of the warehouses ``scope`` sees."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = scope_rule.within(_adjustment_query(), scope, warehouses.c.org_code)
    if status:
        query = query.where(stock_adjustments.c.status == status)
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if cursor:
        (before,) = decode_cursor(cursor, 1, uuid.UUID)
        query = query.where(stock_adjustments.c.id < before)
    query = query.order_by(stock_adjustments.c.id.desc())
    page, next_cursor = await read_page(session, query, limit, lambda r: [str(r.id)])
    return StockAdjustmentPage(items=[_adjustment_out(r) for r in page], next_cursor=next_cursor)
