"""Write-offs above a threshold need a second person (four eyes), like dispatches.

A stock count's decrease (lost, damaged, expired, a correction) worth more than
``WAREHOUSE_WRITE_OFF_FOUR_EYES_FEN`` (units × the item's unit value) is recorded as a
*pending* adjustment and changes nothing (``warehouse.service_layer.counts``). An approver who
is not the person who counted it applies it (:func:`approve_write_off`: the lot moves by the
counted difference, a ``stock.adjusted`` event, the stock card, the level) or rejects it
(:func:`reject_write_off`: the stock stays as it is). A lot has at most one pending write-off;
it is counted again only once that one is decided.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.warehouse import STOCK_ADJUSTED, TOPIC, StockAdjustedV1
from shared.errors import Conflict, NotFound
from warehouse.adapters.orm import items, lots, stock_adjustments, warehouses
from warehouse.domain.commands import ApproveWriteOff, RejectWriteOff
from warehouse.domain.model import ADJUSTMENT_REASONS
from warehouse.service_layer import clock, scope
from warehouse.service_layer.errors import write_off_approver_allowed
from warehouse.service_layer.stock import StockBook, audit
from warehouse.service_layer.tx import Tx

PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"


def publish_adjusted(
    tx: Tx,
    *,
    adjustment_id: uuid.UUID,
    stock_count_id: uuid.UUID | None,
    lot: Any,
    item: Any,
    warehouse_code: str,
    reason: str,
    before: int,
    at: datetime,
) -> None:
    """Stage ``stock.adjusted`` for an adjustment applied to ``lot`` (the row after the move)."""
    tx.publish(
        topic=TOPIC,
        key=str(lot.id),
        subject=str(lot.id),
        type=STOCK_ADJUSTED,
        payload=StockAdjustedV1(
            adjustment_id=adjustment_id,
            stock_count_id=stock_count_id,
            lot_id=lot.id,
            lot_no=lot.lot_no,
            item_code=item.code,
            item_name=item.name,
            unit=item.unit,
            warehouse_code=warehouse_code,
            reason=reason,  # type: ignore[arg-type]
            quantity_before=before,
            quantity_after=lot.on_hand,
            delta=lot.on_hand - before,
            donation_id=lot.donation_id,
            tracking_code=lot.tracking_code,
            disbursement_id=lot.disbursement_id,
            adjusted_at=at,
        ),
    )


async def ensure_none_pending(session: AsyncSession, lot_id: uuid.UUID) -> None:
    """409 if the lot has a write-off waiting for a second person."""
    pending = (
        await session.execute(
            select(stock_adjustments.c.id).where(
                stock_adjustments.c.lot_id == lot_id, stock_adjustments.c.status == PENDING
            )
        )
    ).first()
    if pending is not None:
        raise Conflict(
            "该批次有待审批的报损核销，请先审批或驳回后再盘点 "
            "(the lot has a write-off awaiting a second person; decide it first)",
            details={"lot_id": str(lot_id), "adjustment_id": str(pending.id)},
        )


async def _begin(
    tx: Tx, adjustment_id: uuid.UUID, actor: str, actor_org: str, expected: int | None
) -> tuple[Any, Any, Any]:
    """Lock a pending write-off for a decision: its row, its lot and its warehouse."""
    session = tx.session
    row = (
        await session.execute(
            select(stock_adjustments)
            .where(stock_adjustments.c.id == adjustment_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"库存调整不存在 (stock adjustment {adjustment_id} not found)")
    lot = (await session.execute(select(lots).where(lots.c.id == row.lot_id))).one()
    place = (
        await session.execute(select(warehouses).where(warehouses.c.id == lot.warehouse_id))
    ).one()
    await scope.ensure_reaches(session, actor_org, place, verb="审批")
    if row.status != PENDING:
        raise Conflict(
            f"该调整状态为 {row.status}，不是待审批 (the adjustment is {row.status}, not pending)",
            details={"status": row.status},
        )
    if expected is not None and expected != row.version:
        raise Conflict(
            "该调整已被他人修改，请刷新后重试 (version mismatch: the adjustment was changed)",
            details={"current_version": row.version},
        )
    write_off_approver_allowed(row.actor, actor)
    return row, lot, place


async def approve_write_off(tx: Tx, command: ApproveWriteOff) -> None:
    """Apply a pending write-off: the lot decreases by the difference counted (409 if what is
    left, or what picking reserved, no longer allows it: count again)."""
    session = tx.session
    at = clock.now()
    row, lot, place = await _begin(
        tx, command.adjustment_id, command.actor, command.actor_org, command.expected_version
    )
    book = StockBook(tx, actor=command.actor, at=at)
    await book.lock({(lot.warehouse_id, lot.item_id)})
    lot = (await session.execute(select(lots).where(lots.c.id == row.lot_id))).one()
    before = lot.on_hand
    if before + row.delta < lot.reserved:
        raise Conflict(
            f"批次 {lot.lot_no} 现在在库 {before}、已占用 {lot.reserved}，不能再核减 "
            f"{-row.delta}；请重新盘点 (the lot changed since it was counted; count it again)",
            details={"on_hand": before, "reserved": lot.reserved, "delta": row.delta},
        )
    moved = await book.move(
        lot_id=lot.id,
        movement="adjustment",
        on_hand_delta=row.delta,
        reference_type="adjustment",
        reference_id=row.id,
        note=f"{ADJUSTMENT_REASONS[row.reason]} {row.note or ''}（{command.actor} 审批）".strip(),
    )
    await session.execute(
        update(stock_adjustments)
        .where(stock_adjustments.c.id == row.id)
        .values(
            status=APPLIED,
            quantity_before=before,
            quantity_after=moved.on_hand,
            decided_by=command.actor,
            decided_at=at,
            version=stock_adjustments.c.version + 1,
        )
    )
    item = (await session.execute(select(items).where(items.c.id == lot.item_id))).one()
    publish_adjusted(
        tx,
        adjustment_id=row.id,
        stock_count_id=row.stock_count_id,
        lot=moved,
        item=item,
        warehouse_code=place.code,
        reason=row.reason,
        before=before,
        at=at,
    )
    await book.publish_levels()
    await audit(
        session,
        actor=command.actor,
        action="stock.write_off.approve",
        entity_type="lot",
        entity_id=str(lot.id),
        at=at,
        detail={
            "adjustment": str(row.id),
            "reason": row.reason,
            "counted_by": row.actor,
            "before": before,
            "after": moved.on_hand,
            "value_fen": row.value_fen,
        },
    )


async def reject_write_off(tx: Tx, command: RejectWriteOff) -> None:
    """Refuse a pending write-off, with the reason: the stock is not touched."""
    at = clock.now()
    row, lot, _ = await _begin(
        tx, command.adjustment_id, command.actor, command.actor_org, command.expected_version
    )
    await tx.session.execute(
        update(stock_adjustments)
        .where(stock_adjustments.c.id == row.id)
        .values(
            status=REJECTED,
            decided_by=command.actor,
            decided_at=at,
            decided_reason=command.reason,
            version=stock_adjustments.c.version + 1,
        )
    )
    await audit(
        tx.session,
        actor=command.actor,
        action="stock.write_off.reject",
        entity_type="lot",
        entity_id=str(lot.id),
        at=at,
        detail={
            "adjustment": str(row.id),
            "reason": command.reason,
            "counted_by": row.actor,
            "value_fen": row.value_fen,
        },
    )
