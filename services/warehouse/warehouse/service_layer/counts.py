"""Stock counts (盘点): counted quantities per lot, each difference an adjustment with a reason.

Every adjustment is a ``stock.adjusted`` event, a stock-card movement and an audit entry.
A count can also record goods found that belong to no lot (a new lot, reason ``found``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select

from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from warehouse.adapters.orm import items, lots, stock_adjustments, stock_counts
from warehouse.domain.commands import RecordStockCount
from warehouse.domain.model import ADJUSTMENT_REASONS, needs_second_person, write_off_value
from warehouse.service_layer import scope
from warehouse.service_layer.stock import StockBook, audit, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx
from warehouse.service_layer.write_offs import ensure_none_pending, publish_adjusted

DECREASE = {"lost", "damaged", "expired", "correction"}
INCREASE = {"found", "correction"}


async def record_count(tx: Tx, command: RecordStockCount) -> tuple[uuid.UUID, list[uuid.UUID]]:
    session = tx.session
    place = await warehouse_by_code(session, command.warehouse_code)
    await scope.ensure_reaches(session, command.actor_org, place)
    if not command.lines:
        raise ValidationFailed("至少需要一行盘点记录 (at least one line is required)")
    count_id = uuid7()
    at = command.counted_at
    await session.execute(
        insert(stock_counts).values(
            id=count_id,
            warehouse_id=place.id,
            note=command.note,
            counted_by=command.actor,
            counted_at=at,
        )
    )
    book = StockBook(tx, actor=command.actor, at=at)
    # resolve and lock first (levels in a global order), then change
    resolved = []
    seen: set[uuid.UUID] = set()
    for line in command.lines:
        if line.reason is not None and line.reason not in ADJUSTMENT_REASONS:
            raise ValidationFailed(f"未知的调整原因：{line.reason} (unknown reason code)")
        if line.lot_id is not None:
            if line.lot_id in seen:
                raise ValidationFailed(f"批次重复：{line.lot_id} (lot counted twice)")
            seen.add(line.lot_id)
            lot = (await session.execute(select(lots).where(lots.c.id == line.lot_id))).first()
            if lot is None or lot.warehouse_id != place.id:
                raise NotFound(f"本仓库无此批次：{line.lot_id} (lot not in {place.code})")
            resolved.append((line, lot.item_id))
        else:
            if not line.item_code:
                raise ValidationFailed(
                    "盘点行须有 lot_id 或 item_code (lot_id or item_code required)"
                )
            item = await item_by_code(session, line.item_code)
            if line.counted_quantity > 0 and line.reason not in INCREASE:
                raise ValidationFailed("盘盈新批次的原因须为 found (reason must be found)")
            if item.lot_tracked and line.expiry_date is None and line.counted_quantity > 0:
                raise ValidationFailed(f"{item.name} 必须登记效期 (expiry_date is mandatory)")
            resolved.append((line, item.id))
    await book.lock({(place.id, item_id) for _, item_id in resolved})
    adjustment_ids = []
    for line, item_id in resolved:
        if line.lot_id is None:
            if line.counted_quantity == 0:
                continue
            lot_id = await book.new_lot(
                lot_no=line.lot_no or f"PD-{at:%Y%m%d}-{str(count_id)[-6:]}",
                item_id=item_id,
                warehouse_id=place.id,
                expiry_date=line.expiry_date,
                received_quantity=line.counted_quantity,
                unit_value_fen=select(items.c.unit_value_fen)
                .where(items.c.id == item_id)
                .scalar_subquery(),
                source_kind="count",
                received_at=at,
            )
            before = 0
        else:
            lot_id = line.lot_id
            lot = (await session.execute(select(lots).where(lots.c.id == lot_id))).one()
            before = lot.on_hand
            if line.counted_quantity == before:
                continue
            if line.counted_quantity < lot.reserved:
                raise Conflict(
                    f"批次 {lot.lot_no} 已被调拨单占用 {lot.reserved}，盘点数不能少于占用数；"
                    f"请先取消相关调拨 (counted below the reserved quantity)"
                )
        delta = line.counted_quantity - before
        reason = line.reason
        if reason is None:
            raise ValidationFailed("盘点差异必须填写原因代码 reason (a reason code is required)")
        if delta < 0 and reason not in DECREASE:
            raise ValidationFailed(
                f"盘亏的原因不能是 {reason} (reason {reason} cannot decrease stock)"
            )
        if delta > 0 and reason not in INCREASE:
            raise ValidationFailed(
                f"盘盈的原因不能是 {reason} (reason {reason} cannot increase stock)"
            )
        adjustment_id = uuid7()
        item = (await session.execute(select(items).where(items.c.id == item_id))).one()
        if line.lot_id is not None:
            await ensure_none_pending(session, lot_id)
        value = write_off_value(delta, item.unit_value_fen)
        if needs_second_person(delta, item.unit_value_fen, command.four_eyes_above_fen):
            # four eyes: recorded, not applied; an approver applies it (write_offs.approve)
            await session.execute(
                insert(stock_adjustments).values(
                    id=adjustment_id,
                    stock_count_id=count_id,
                    lot_id=lot_id,
                    reason=reason,
                    quantity_before=before,
                    quantity_after=line.counted_quantity,
                    delta=delta,
                    value_fen=value,
                    status="pending",
                    note=line.note,
                    actor=command.actor,
                    at=at,
                )
            )
            await audit(
                session,
                actor=command.actor,
                action="stock.write_off.request",
                entity_type="lot",
                entity_id=str(lot_id),
                at=at,
                detail={
                    "adjustment": str(adjustment_id),
                    "reason": reason,
                    "delta": delta,
                    "value_fen": value,
                    "threshold_fen": command.four_eyes_above_fen,
                    "count": str(count_id),
                },
            )
            adjustment_ids.append(adjustment_id)
            continue
        moved = await book.move(
            lot_id=lot_id,
            movement="adjustment",
            on_hand_delta=delta,
            reference_type="adjustment",
            reference_id=adjustment_id,
            note=f"{ADJUSTMENT_REASONS[reason]} {line.note or ''}".strip(),
        )
        await session.execute(
            insert(stock_adjustments).values(
                id=adjustment_id,
                stock_count_id=count_id,
                lot_id=lot_id,
                reason=reason,
                quantity_before=before,
                quantity_after=moved.on_hand,
                delta=delta,
                value_fen=value,
                status="applied",
                note=line.note,
                actor=command.actor,
                at=at,
            )
        )
        publish_adjusted(
            tx,
            adjustment_id=adjustment_id,
            stock_count_id=count_id,
            lot=moved,
            item=item,
            warehouse_code=place.code,
            reason=reason,
            before=before,
            at=at,
        )
        await audit(
            session,
            actor=command.actor,
            action="stock.adjust",
            entity_type="lot",
            entity_id=str(lot_id),
            at=at,
            detail={
                "reason": reason,
                "before": before,
                "after": moved.on_hand,
                "count": str(count_id),
            },
        )
        adjustment_ids.append(adjustment_id)
    await book.publish_levels()
    await audit(
        session,
        actor=command.actor,
        action="stock_count.record",
        entity_type="stock_count",
        entity_id=str(count_id),
        at=at,
        detail={
            "warehouse_code": place.code,
            "lines": len(command.lines),
            "adjustments": len(adjustment_ids),
        },
    )
    return count_id, adjustment_ids
