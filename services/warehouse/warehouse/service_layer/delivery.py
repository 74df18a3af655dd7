"""The sign-off of a dispatch (签收): partial deliveries, returns, and a transfer's landing.

Returned units go back to the lots they were shipped from (latest expiry first when no lot is
named); on a transfer the delivered units arrive at the destination warehouse as a received
inbound (``stock.received`` with ``source_kind = transfer``), lots keeping their donation
lineage.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.contracts import warehouse as contracts
from shared.contracts.warehouse import (
    TOPIC,
    DeliveredLineV1,
    DeliveredLotV1,
    LotSourceV1,
    ReceivedLotV1,
    StockReceivedV1,
)
from shared.errors import ValidationFailed
from shared.ids import uuid7
from warehouse.adapters.orm import dispatch_allocations, inbounds, items, lots, warehouses
from warehouse.domain.commands import DeliverDispatch
from warehouse.domain.model import allocate_returns, mask_person_name
from warehouse.service_layer import clock
from warehouse.service_layer.dispatch_rows import DispatchRows, rows_of
from warehouse.service_layer.dispatch_steps import begin, publish, save
from warehouse.service_layer.inbound import next_receipt_no
from warehouse.service_layer.recipients import recipients_reached
from warehouse.service_layer.stock import StockBook
from warehouse.service_layer.tx import Tx


async def deliver_dispatch(
    tx: Tx,
    command: DeliverDispatch,
    rows: DispatchRows | None = None,
    *,
    lost: Mapping[uuid.UUID, int] | None = None,
) -> None:
    """Sign off a shipped dispatch: what the recipient took, what came back (returned to the
    source's stock); a transfer's delivered goods land at its destination warehouse.

    ``lost``: per lot, units of a transfer that did not arrive or arrived damaged (the
    receiving station's confirmation, ``warehouse.service_layer.transit``): they land nowhere
    and go back nowhere; they are not counted as delivered."""
    rows = rows or rows_of(tx)
    lost = lost or {}
    session = tx.session
    at = command.delivered_at
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "deliver",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
        receiving=True,
    )
    if not command.recipient_name.strip():
        raise ValidationFailed("请填写签收人 recipient_name (recipient name required)")
    if row.shipped_at is not None and at < row.shipped_at:
        raise ValidationFailed("签收时间不能早于发运时间 (delivered_at is before shipped_at)")
    if at > clock.now() + timedelta(minutes=5):
        raise ValidationFailed("签收时间不能是将来 (delivered_at is in the future)")
    if command.recipient_ids and row.kind == "transfer":
        raise ValidationFailed(
            "调拨到仓库不列受助对象 (a transfer lands in a warehouse: it names no recipients)"
        )
    reached = await recipients_reached(session, command.recipient_ids)
    allocs = await rows.allocations(row.id)
    shipped_by_item: dict[str, list[Any]] = defaultdict(list)
    for a in allocs:
        shipped_by_item[a.item_code].append(a)
    returned: dict[uuid.UUID, int] = defaultdict(int)
    for ret in command.returns:
        shipped = shipped_by_item.get(ret.item_code)
        if not shipped:
            raise ValidationFailed(
                f"退回的物资不在本调拨单中：{ret.item_code} (not on this dispatch)"
            )
        if ret.lot_id is not None:
            match = [a for a in shipped if a.lot_id == ret.lot_id]
            if not match:
                raise ValidationFailed(
                    f"批次不在本调拨单中：{ret.lot_id} (lot not on this dispatch)"
                )
            returned[ret.lot_id] += ret.quantity
            continue
        remaining = [(a.lot_id, a.quantity - returned[a.lot_id], a.expiry_date) for a in shipped]
        if ret.quantity > sum(q for _, q, _ in remaining):
            raise ValidationFailed(
                f"{ret.item_code} 退回数量超过发运数量 (returned more than shipped)"
            )
        for lot_id, quantity in allocate_returns(remaining, ret.quantity).items():
            returned[lot_id] += quantity
    for a in allocs:
        if returned[a.lot_id] + lost.get(a.lot_id, 0) > a.quantity:
            raise ValidationFailed(
                f"{a.item_code} 批次 {a.lot_no} 退回数量超过发运数量 (returned more than shipped)"
            )
    book = StockBook(tx, actor=command.actor, at=at)
    target = None
    pairs = {(a.warehouse_id, a.item_id) for a in allocs if returned[a.lot_id] > 0}
    if row.kind == "transfer":
        target = (
            await session.execute(
                select(warehouses).where(warehouses.c.id == row.destination_warehouse_id)
            )
        ).one()
        pairs |= {
            (target.id, a.item_id)
            for a in allocs
            if a.quantity > returned[a.lot_id] + lost.get(a.lot_id, 0)
        }
    await book.lock(pairs)
    lines: list[DeliveredLineV1] = []
    for code, shipped in shipped_by_item.items():
        lot_lines = []
        for a in shipped:
            back = returned[a.lot_id]
            arrived = a.quantity - back - lost.get(a.lot_id, 0)
            if back:
                await book.move(
                    lot_id=a.lot_id,
                    movement="return",
                    on_hand_delta=back,
                    reference_type="dispatch",
                    reference_id=row.id,
                    reference_no=row.dispatch_no,
                    note="签收退回 (returned at sign-off)",
                )
            await session.execute(
                update(dispatch_allocations)
                .where(dispatch_allocations.c.id == a.id)
                .values(delivered_quantity=arrived, returned_quantity=back)
            )
            lot_lines.append(
                DeliveredLotV1(
                    lot_id=a.lot_id,
                    lot_no=a.lot_no,
                    shipped_quantity=a.quantity,
                    delivered_quantity=arrived,
                    returned_quantity=back,
                    donation_id=a.donation_id,
                    tracking_code=a.tracking_code,
                    disbursement_id=a.disbursement_id,
                )
            )
        lines.append(
            DeliveredLineV1(
                item_code=code,
                item_name=shipped[0].item_name,
                unit=shipped[0].unit,
                shipped_quantity=sum(x.shipped_quantity for x in lot_lines),
                delivered_quantity=sum(x.delivered_quantity for x in lot_lines),
                returned_quantity=sum(x.returned_quantity for x in lot_lines),
                lots=lot_lines,
            )
        )
    any_returned = any(returned.values())
    row = await save(
        rows,
        row,
        status,
        at,
        recipient_name=command.recipient_name.strip(),
        recipient_phone=command.recipient_phone,
        recipient_org=command.recipient_org,
        delivery_note=command.note,
        delivered_at=at,
        delivered_by=command.actor,
        recipient_ids=list(command.recipient_ids),
        people_reached=reached.people,
        households_reached=reached.households,
    )
    publish(
        tx,
        row,
        contracts.DISPATCH_DELIVERED,
        contracts.DispatchDeliveredV1(
            **head,
            recipient_name_masked=mask_person_name(command.recipient_name),
            recipient_org=command.recipient_org,
            partial=any_returned or any(lost.values()),
            lines=lines,
            returned_to_warehouse_code=head["from_warehouse_code"] if any_returned else None,
            delivered_at=at,
            recipient_ids=list(command.recipient_ids),
            people_reached=reached.people,
            households_reached=reached.households,
        ),
    )
    if target is not None:
        await _land_transfer(tx, book, row, target, allocs, returned, lost)
    await book.publish_levels()
    await rows.audit(
        actor=command.actor,
        action="dispatch.deliver",
        entity_id=str(row.id),
        at=at,
        detail={
            "recipient_org": command.recipient_org,
            "returns": {str(k): v for k, v in returned.items() if v},
            "recipient_ids": [str(r) for r in command.recipient_ids],
            "people_reached": reached.people,
            "households_reached": reached.households,
        },
    )


async def _land_transfer(
    tx: Tx,
    book: StockBook,
    row: Any,
    target: Any,
    allocs: list[Any],
    returned: dict[uuid.UUID, int],
    lost: Mapping[uuid.UUID, int],
) -> None:
    """The delivered quantities of a transfer (less what was lost on the way) arrive at the
    destination as a received inbound."""
    session = tx.session
    at = book.at
    receipt_no = await next_receipt_no(session, at)
    inbound_id = uuid7()
    received: list[ReceivedLotV1] = []
    stored: list[dict[str, Any]] = []
    await session.execute(
        pg_insert(inbounds).values(
            id=inbound_id,
            receipt_no=receipt_no,
            status="received",
            source_kind="transfer",
            warehouse_id=target.id,
            transfer_dispatch_id=row.id,
            lines=[],
            received_lines=stored,
            announced_at=at,
            received_at=at,
            received_by=book.actor,
            created_by=book.actor,
            version=1,
        )
    )
    for a in allocs:
        quantity = a.quantity - returned[a.lot_id] - lost.get(a.lot_id, 0)
        if quantity <= 0:
            continue
        origin = (await session.execute(select(lots).where(lots.c.id == a.lot_id))).one()
        item = (await session.execute(select(items).where(items.c.id == a.item_id))).one()
        lot_id = await book.new_lot(
            lot_no=origin.lot_no,
            item_id=a.item_id,
            warehouse_id=target.id,
            expiry_date=origin.expiry_date,
            received_quantity=quantity,
            unit_value_fen=origin.unit_value_fen,
            source_kind="transfer",
            donation_id=origin.donation_id,
            tracking_code=origin.tracking_code,
            procurement_order=origin.procurement_order,
            transfer_dispatch_id=row.id,
            inbound_id=inbound_id,
            # a designation and the money that bought the goods travel with them
            designated_project=origin.designated_project,
            disbursement_id=origin.disbursement_id,
            received_at=at,
        )
        await book.move(
            lot_id=lot_id,
            movement="transfer_in",
            on_hand_delta=quantity,
            reference_type="inbound",
            reference_id=inbound_id,
            reference_no=receipt_no,
            note=f"调拨 {row.dispatch_no}",
        )
        stored.append(
            {
                "item_code": item.code,
                "accepted_quantity": quantity,
                "lot_id": str(lot_id),
                "from_lot_id": str(a.lot_id),
            }
        )
        received.append(
            ReceivedLotV1(
                lot_id=lot_id,
                lot_no=origin.lot_no,
                item_code=item.code,
                item_name=item.name,
                category=item.category,
                unit=item.unit,
                warehouse_code=target.code,
                quantity=quantity,
                expected_quantity=a.quantity,
                expiry_date=origin.expiry_date,
                unit_value_fen=origin.unit_value_fen,
                donation_id=origin.donation_id,
                tracking_code=origin.tracking_code,
                designated_project=origin.designated_project,
                disbursement_id=origin.disbursement_id,
            )
        )
    await session.execute(
        update(inbounds).where(inbounds.c.id == inbound_id).values(received_lines=stored)
    )
    tx.publish(
        topic=TOPIC,
        key=str(inbound_id),
        subject=str(inbound_id),
        type=contracts.STOCK_RECEIVED,
        payload=StockReceivedV1(
            inbound_id=inbound_id,
            receipt_no=receipt_no,
            warehouse_code=target.code,
            warehouse_name=target.name,
            town=target.town,
            source=LotSourceV1(source_kind="transfer", transfer_dispatch_id=row.id),
            received_at=at,
            lots=received,
        ),
    )
