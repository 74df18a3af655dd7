"""Inbound (入库): expected receipts from goods gifts and procurement, confirmed by staff.

A goods gift announced by ``donation.received`` becomes an expected inbound; staff confirm
what actually arrived (quantities may differ; damaged quantities with a reason; expired goods
refused unless a reason is given). Confirmation creates lots tagged with their source and
publishes ``stock.received`` and one ``stock.level_changed`` per item.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.donation import (
    DesignationChangedV1,
    DonationCancelledV1,
    DonationReceivedV1,
)
from shared.contracts.warehouse import (
    STOCK_RECEIVED,
    TOPIC,
    LotSourceV1,
    ReceivedLotV1,
    StockReceivedV1,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent
from warehouse.adapters.orm import inbounds, items, lots, warehouses
from warehouse.domain.commands import ConfirmInbound, ConfirmLine, RegisterProcurement
from warehouse.domain.model import is_expired, local_today
from warehouse.service_layer import clock, scope
from warehouse.service_layer.stock import StockBook, audit, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx

# --------------------------------------------------------------------------- consumed events


async def on_donation_received(session: AsyncSession, event: CloudEvent) -> None:
    """A goods gift becomes an expected inbound (once per donation, whatever the redelivery)."""
    gift = DonationReceivedV1.model_validate(event.data)
    if gift.kind != "goods" or not gift.items:
        return  # money gifts concern the donation service only
    await session.execute(
        pg_insert(inbounds)
        .values(
            id=uuid7(),
            status="expected",
            source_kind="donation",
            donation_id=gift.donation_id,
            tracking_code=gift.tracking_code,
            donor_display_name=gift.display_name,
            designated_project=gift.project_code,  # its lots go only to that project's dispatches
            lines=[item.model_dump(mode="json") for item in gift.items],
            announced_at=gift.received_at,
            created_by="donation.received",
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["donation_id"])
    )


async def on_donation_cancelled(session: AsyncSession, event: CloudEvent) -> None:
    """A cancelled gift's goods are no longer expected (received stock is not touched)."""
    cancelled = DonationCancelledV1.model_validate(event.data)
    result = await session.execute(
        update(inbounds)
        .where(inbounds.c.donation_id == cancelled.donation_id, inbounds.c.status == "expected")
        .values(
            status="cancelled",
            note=f"捐赠已取消：{cancelled.reason}",
            version=inbounds.c.version + 1,
        )
        .returning(inbounds.c.id)
    )
    inbound_id = result.scalar()
    if inbound_id is not None:
        await audit(
            session,
            actor="donation.cancelled",
            action="inbound.cancel",
            entity_type="inbound",
            entity_id=str(inbound_id),
            at=clock.now(),
            detail={"donation_id": str(cancelled.donation_id), "reason": cancelled.reason},
        )


async def on_designation_changed(session: AsyncSession, event: CloudEvent) -> None:
    """A gift's designation was corrected: its expected inbound and its lots follow (lots
    already reserved or shipped keep what their dispatch was picked under)."""
    changed = DesignationChangedV1.model_validate(event.data)
    project = changed.to_project_code
    await session.execute(
        update(inbounds)
        .where(inbounds.c.donation_id == changed.donation_id)
        .values(designated_project=project)
    )
    moved = await session.execute(
        update(lots)
        .where(lots.c.donation_id == changed.donation_id)
        .values(designated_project=project)
        .returning(lots.c.id)
    )
    await audit(
        session,
        actor="donation.designation_changed",
        action="lot.designate",
        entity_type="donation",
        entity_id=str(changed.donation_id),
        at=clock.now(),
        detail={
            "from": changed.from_project_code,
            "to": project,
            "lots": [str(lot_id) for lot_id in moved.scalars()],
        },
    )


# --------------------------------------------------------------------------- procurement


async def register_procurement(tx: Tx, command: RegisterProcurement) -> uuid.UUID:
    """An expected inbound for a procurement delivery; its id."""
    warehouse_code, procurement_order = command.warehouse_code, command.procurement_order
    supplier, note, actor = command.supplier, command.note, command.actor
    lines = command.lines
    now = clock.now()
    place = await warehouse_by_code(tx.session, warehouse_code)
    await scope.ensure_reaches(tx.session, command.actor_org, place)
    stored = []
    for line in lines:
        item = await item_by_code(tx.session, line.item_code)
        stored.append(
            {
                "item_code": item.code,
                "name": item.name,
                "quantity": line.quantity,
                "unit": item.unit,
                "lot_no": line.lot_no,
                "expiry_date": line.expiry_date.isoformat() if line.expiry_date else None,
                "value_fen": (
                    line.unit_value_fen if line.unit_value_fen is not None else item.unit_value_fen
                )
                * line.quantity,
            }
        )
    inbound_id = uuid7()
    await tx.session.execute(
        pg_insert(inbounds).values(
            id=inbound_id,
            status="expected",
            source_kind="procurement",
            warehouse_id=place.id,
            procurement_order=procurement_order,
            supplier=supplier,
            disbursement_id=command.disbursement_id,
            lines=stored,
            note=note,
            announced_at=now,
            created_by=actor,
            version=1,
        )
    )
    await audit(
        tx.session,
        actor=actor,
        action="inbound.create",
        entity_type="inbound",
        entity_id=str(inbound_id),
        at=now,
        detail={
            "procurement_order": procurement_order,
            "warehouse_code": warehouse_code,
            "disbursement_id": str(command.disbursement_id) if command.disbursement_id else None,
        },
    )
    return inbound_id


# --------------------------------------------------------------------------- confirmation


async def next_receipt_no(session: AsyncSession, at: datetime) -> str:
    number = (await session.execute(text("SELECT nextval('receipt_no_seq')"))).scalar_one()
    return f"RK-{at.year}-{number:06d}"


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def confirm_inbound(tx: Tx, command: ConfirmInbound) -> uuid.UUID:
    session = tx.session
    inbound = (
        await session.execute(
            select(inbounds).where(inbounds.c.id == command.inbound_id).with_for_update()
        )
    ).first()
    if inbound is None:
        raise NotFound(f"入库单不存在 (inbound {command.inbound_id} not found)")
    if inbound.status != "expected":
        raise Conflict(
            f"入库单状态为 {inbound.status}，不能再次确认 "
            f"(inbound is {inbound.status}, not expected)"
        )
    if command.expected_version is not None and command.expected_version != inbound.version:
        raise Conflict(
            "入库单已被他人修改，请刷新后重试 (version mismatch: inbound was changed)",
            details={"current_version": inbound.version},
        )
    announced_at = None  # the warehouse the inbound was announced for, if any
    if inbound.warehouse_id is not None:
        announced_at = (
            await session.execute(select(warehouses).where(warehouses.c.id == inbound.warehouse_id))
        ).one()
        # the organisation it was announced to confirms it (also into another warehouse)
        await scope.ensure_reaches(session, command.actor_org, announced_at)
    if command.warehouse_code:
        place = await warehouse_by_code(session, command.warehouse_code)
    elif announced_at is not None:
        place = announced_at
    else:
        raise ValidationFailed("请指定入库仓库 warehouse_code (warehouse_code is required)")
    await scope.ensure_reaches(session, command.actor_org, place)
    if not place.active:
        raise Conflict(f"仓库已停用：{place.code} (warehouse {place.code} is inactive)")
    if not command.lines:
        raise ValidationFailed("至少需要一行到货记录 (at least one line is required)")
    expected: list[dict[str, Any]] = list(inbound.lines)
    today = command.today or local_today(command.received_at)
    seen: set[int] = set()
    receipt_no = await next_receipt_no(session, command.received_at)
    book = StockBook(tx, actor=command.actor, at=command.received_at)
    plans: list[tuple[Any, ConfirmLine, dict[str, Any] | None]] = []
    for line in command.lines:
        announced = None
        if line.line_no is not None:
            if not 1 <= line.line_no <= len(expected) or line.line_no in seen:
                raise ValidationFailed(
                    f"行号无效或重复：{line.line_no} (invalid or repeated line_no {line.line_no})"
                )
            seen.add(line.line_no)
            announced = expected[line.line_no - 1]
        code = line.item_code or (announced or {}).get("item_code")
        if not code:
            raise ValidationFailed("未登记的到货行必须填写 item_code (item_code required)")
        item = await item_by_code(session, code)
        if line.damaged_quantity > line.received_quantity:
            raise ValidationFailed(
                f"{item.name}：损坏数量不能大于到货数量 (damaged exceeds received)"
            )
        if line.damaged_quantity > 0 and not (line.damage_reason or "").strip():
            raise ValidationFailed(
                f"{item.name}：有损坏时必须填写损坏原因 (damage_reason required when damaged)"
            )
        expiry = line.expiry_date or _as_date((announced or {}).get("expiry_date"))
        accepted = line.received_quantity - line.damaged_quantity
        if accepted > 0 and item.lot_tracked and expiry is None:
            raise ValidationFailed(
                f"{item.name} 必须登记批次效期 (expiry_date is mandatory for {item.code})"
            )
        if accepted > 0 and is_expired(expiry, today) and not (line.expired_reason or "").strip():
            raise ValidationFailed(
                f"{item.name} 已过期（效期 {expiry}），拒收；如确需入库请填写原因 expired_reason "
                f"(expired goods are refused unless expired_reason is given)"
            )
        plans.append((item, line, announced))
    await book.lock({(place.id, item.id) for item, _, _ in plans})
    received: list[ReceivedLotV1] = []
    stored: list[dict[str, Any]] = []
    for index, (item, line, announced) in enumerate(plans, start=1):
        expiry = line.expiry_date or _as_date((announced or {}).get("expiry_date"))
        accepted = line.received_quantity - line.damaged_quantity
        announced_qty = (announced or {}).get("quantity")
        unit_value = line.unit_value_fen
        if unit_value is None and announced and announced.get("quantity"):
            unit_value = int(announced.get("value_fen", 0)) // int(announced["quantity"])
        if unit_value is None:
            unit_value = item.unit_value_fen
        lot_no = line.lot_no or (announced or {}).get("lot_no") or f"{receipt_no}-{index:02d}"
        record = {
            "line_no": line.line_no,
            "item_code": item.code,
            "expected_quantity": announced_qty,
            "received_quantity": line.received_quantity,
            "damaged_quantity": line.damaged_quantity,
            "damage_reason": line.damage_reason,
            "accepted_quantity": accepted,
            "lot_no": lot_no,
            "expiry_date": expiry.isoformat() if expiry else None,
            "expired_reason": line.expired_reason,
            "lot_id": None,
        }
        if accepted > 0:
            lot_id = await book.new_lot(
                lot_no=lot_no,
                item_id=item.id,
                warehouse_id=place.id,
                expiry_date=expiry,
                received_quantity=accepted,
                unit_value_fen=unit_value,
                source_kind=inbound.source_kind,
                donation_id=inbound.donation_id,
                tracking_code=inbound.tracking_code,
                procurement_order=inbound.procurement_order,
                transfer_dispatch_id=inbound.transfer_dispatch_id,
                inbound_id=inbound.id,
                received_at=command.received_at,
                designated_project=inbound.designated_project,
                disbursement_id=inbound.disbursement_id,
            )
            await book.move(
                lot_id=lot_id,
                movement="receipt",
                on_hand_delta=accepted,
                reference_type="inbound",
                reference_id=inbound.id,
                reference_no=receipt_no,
            )
            record["lot_id"] = str(lot_id)
            received.append(
                ReceivedLotV1(
                    lot_id=lot_id,
                    lot_no=lot_no,
                    item_code=item.code,
                    item_name=item.name,
                    category=item.category,
                    unit=item.unit,
                    warehouse_code=place.code,
                    quantity=accepted,
                    expected_quantity=announced_qty,
                    damaged_quantity=line.damaged_quantity,
                    damage_reason=line.damage_reason,
                    expiry_date=expiry,
                    expired_accepted_reason=line.expired_reason
                    if is_expired(expiry, today)
                    else None,
                    unit_value_fen=unit_value,
                    donation_id=inbound.donation_id,
                    tracking_code=inbound.tracking_code,
                    designated_project=inbound.designated_project,
                    disbursement_id=inbound.disbursement_id,
                )
            )
        stored.append(record)
    for number, announced in enumerate(expected, start=1):
        if number not in seen:  # announced but nothing arrived
            stored.append(
                {
                    "line_no": number,
                    "item_code": announced.get("item_code"),
                    "expected_quantity": announced.get("quantity"),
                    "received_quantity": 0,
                    "damaged_quantity": 0,
                    "accepted_quantity": 0,
                    "lot_id": None,
                }
            )
    await session.execute(
        update(inbounds)
        .where(inbounds.c.id == inbound.id)
        .values(
            status="received",
            receipt_no=receipt_no,
            warehouse_id=place.id,
            received_lines=stored,
            received_at=command.received_at,
            received_by=command.actor,
            note=command.note or inbound.note,
            version=inbounds.c.version + 1,
        )
    )
    tx.publish(
        topic=TOPIC,
        key=str(inbound.id),
        subject=str(inbound.id),
        type=STOCK_RECEIVED,
        payload=StockReceivedV1(
            inbound_id=inbound.id,
            receipt_no=receipt_no,
            warehouse_code=place.code,
            warehouse_name=place.name,
            town=place.town,
            source=LotSourceV1(
                source_kind=inbound.source_kind,
                donation_id=inbound.donation_id,
                tracking_code=inbound.tracking_code,
                procurement_order=inbound.procurement_order,
                transfer_dispatch_id=inbound.transfer_dispatch_id,
                designated_project=inbound.designated_project,
                disbursement_id=inbound.disbursement_id,
            ),
            received_at=command.received_at,
            lots=received,
        ),
    )
    await book.publish_levels()
    await audit(
        session,
        actor=command.actor,
        action="inbound.confirm",
        entity_type="inbound",
        entity_id=str(inbound.id),
        at=command.received_at,
        detail={"receipt_no": receipt_no, "warehouse_code": place.code, "lines": stored},
    )
    return uuid.UUID(str(inbound.id))


async def item_exists(session: AsyncSession, code: str) -> bool:
    return (
        await session.execute(select(items.c.id).where(items.c.code == code))
    ).first() is not None
