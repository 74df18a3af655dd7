"""Dispatch (调拨/出库): request → approve (another person) → pick (FEFO, reserve) → ship
(waybill) → deliver (sign-off, partial, returns); reject and cancel release reservations.

A dispatch whose destination is a warehouse is a transfer: on delivery the goods land there
as a received inbound (``stock.received`` with ``source_kind = transfer``), lots keeping their
donation lineage.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import warehouse as contracts
from shared.contracts.warehouse import (
    TOPIC,
    DeliveredLineV1,
    DeliveredLotV1,
    DestinationV1,
    LotSourceV1,
    PickedLineV1,
    PickedLotV1,
    ReceivedLotV1,
    ReleasedLotV1,
    RequestedLineV1,
    StockReceivedV1,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from warehouse.adapters.orm import (
    dispatch_allocations,
    dispatches,
    inbounds,
    items,
    lots,
    warehouses,
)
from warehouse.domain.model import (
    REQUESTED,
    TOWNS,
    LotStock,
    allocate_returns,
    holds_reservation,
    local_today,
    mask_person_name,
)
from warehouse.service_layer.errors import approver_allowed, pick_lots, transition
from warehouse.service_layer.inbound import next_receipt_no
from warehouse.service_layer.stock import StockBook, audit, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx


@dataclass(frozen=True)
class Destination:
    kind: str
    name: str | None = None
    town: str | None = None
    warehouse_code: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class RequestDispatch:
    from_warehouse_code: str
    destination: Destination
    lines: list[tuple[str, int]]
    actor: str
    urgency: str = "normal"
    incident_code: str | None = None
    incident_name: str | None = None
    note: str | None = None
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ReturnLine:
    item_code: str
    quantity: int
    lot_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Deliver:
    recipient_name: str
    actor: str
    recipient_phone: str | None = None
    recipient_org: str | None = None
    note: str | None = None
    returns: list[ReturnLine] = field(default_factory=list)
    delivered_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Outcome:
    """What a step leaves behind, so the answer is built without reading it all again: the
    dispatch row after the step, its allocations and the codes of the warehouses it names."""

    row: Row[Any]
    allocations: Sequence[Any]  # rows of allocations_of, or Picked
    codes: dict[uuid.UUID, str]


def _outcome(row: Row[Any], allocs: Sequence[Any], head: dict[str, Any]) -> Outcome:
    codes = {row.from_warehouse_id: head["from_warehouse_code"]}
    if row.destination_warehouse_id is not None:
        codes[row.destination_warehouse_id] = head["destination"].warehouse_code
    return Outcome(row, allocs, codes)


# --------------------------------------------------------------------------- reading


async def load_dispatch(
    session: AsyncSession, dispatch_id: uuid.UUID, *, lock: bool = False
) -> Row[Any]:
    query = select(dispatches).where(dispatches.c.id == dispatch_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound(f"调拨单不存在 (dispatch {dispatch_id} not found)")
    return row


async def allocations_of(session: AsyncSession, dispatch_id: uuid.UUID) -> list[Row[Any]]:
    query = (
        select(
            dispatch_allocations,
            lots.c.lot_no,
            lots.c.expiry_date,
            lots.c.source_kind,
            lots.c.donation_id,
            lots.c.tracking_code,
            lots.c.warehouse_id,
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.unit,
        )
        .join(lots, lots.c.id == dispatch_allocations.c.lot_id)
        .join(items, items.c.id == dispatch_allocations.c.item_id)
        .where(dispatch_allocations.c.dispatch_id == dispatch_id)
        .order_by(items.c.code, lots.c.expiry_date.nulls_last(), lots.c.lot_no)
    )
    return list((await session.execute(query)).all())


def _head(
    row: Row[Any], source_code: str, source_name: str, target_code: str | None
) -> dict[str, Any]:
    """The fields every dispatch event starts with."""
    return {
        "dispatch_id": row.id,
        "dispatch_no": row.dispatch_no,
        "kind": row.kind,
        "from_warehouse_code": source_code,
        "from_warehouse_name": source_name,
        "destination": DestinationV1(
            kind=row.destination_kind,
            name=row.destination_name,
            town=row.destination_town,
            warehouse_code=target_code,
        ),
        "incident_code": row.incident_code,
        "incident_name": row.incident_name,
        "urgency": row.urgency,
    }


@dataclass(frozen=True)
class Picked:
    """An allocation just made by :func:`pick`, with what :func:`allocations_of` would read
    back for it (the lot's and the item's columns)."""

    lot_id: uuid.UUID
    item_id: uuid.UUID
    warehouse_id: uuid.UUID
    item_code: str
    item_name: str
    unit: str
    quantity: int
    lot_no: str
    expiry_date: date | None
    source_kind: str
    donation_id: uuid.UUID | None
    tracking_code: str | None
    delivered_quantity: int | None = None
    returned_quantity: int | None = None


def requested_lines(row: Row[Any]) -> list[RequestedLineV1]:
    return [
        RequestedLineV1(
            item_code=line["item_code"],
            item_name=line["item_name"],
            unit=line["unit"],
            quantity=line["quantity"],
        )
        for line in row.lines
    ]


def picked_lines(allocs: Sequence[Any]) -> list[PickedLineV1]:
    by_item: dict[str, list[Any]] = defaultdict(list)
    for a in allocs:
        by_item[a.item_code].append(a)
    return [
        PickedLineV1(
            item_code=code,
            item_name=rows[0].item_name,
            unit=rows[0].unit,
            quantity=sum(r.quantity for r in rows),
            lots=[
                PickedLotV1(
                    lot_id=r.lot_id,
                    lot_no=r.lot_no,
                    quantity=r.quantity,
                    expiry_date=r.expiry_date,
                    source_kind=r.source_kind,
                    donation_id=r.donation_id,
                    tracking_code=r.tracking_code,
                )
                for r in rows
            ],
        )
        for code, rows in by_item.items()
    ]


def _publish(tx: Tx, row: Row[Any], type_: str, payload: Any) -> None:
    tx.publish(topic=TOPIC, key=str(row.id), subject=str(row.id), type=type_, payload=payload)


def _check_version(row: Row[Any], expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise Conflict(
            "调拨单已被他人修改，请刷新后重试 (version mismatch: the dispatch was changed)",
            details={"current_version": row.version},
        )


# --------------------------------------------------------------------------- request


async def request_dispatch(tx: Tx, command: RequestDispatch) -> uuid.UUID:
    return uuid.UUID(str((await request(tx, command)).row.id))


async def request(tx: Tx, command: RequestDispatch) -> Outcome:
    """Record a dispatch request; the new dispatch (see :func:`request_dispatch`)."""
    session = tx.session
    source = await warehouse_by_code(session, command.from_warehouse_code)
    if not source.active:
        raise Conflict(f"仓库已停用：{source.code} (warehouse {source.code} is inactive)")
    dest = command.destination
    target = None
    town = dest.town
    name = dest.name
    if dest.warehouse_code:
        target = await warehouse_by_code(session, dest.warehouse_code)
        if target.id == source.id:
            raise ValidationFailed("调入仓库不能与调出仓库相同 (destination equals source)")
        if not target.active:
            raise Conflict(f"仓库已停用：{target.code} (warehouse {target.code} is inactive)")
        town = town or target.town
        name = name or target.name
    elif dest.kind == "warehouse":
        raise ValidationFailed(
            "调拨到仓库须填写 destination.warehouse_code (warehouse_code required)"
        )
    if not name:
        raise ValidationFailed("请填写目的地名称 destination.name (destination name required)")
    if town is not None and town not in TOWNS:
        raise ValidationFailed(
            f"未知的镇（街道）：{town}；应为奉化区12个镇街之一 (unknown town {town})"
        )
    if not command.lines:
        raise ValidationFailed("至少需要一行物资 (at least one line is required)")
    codes = [code for code, _ in command.lines]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("同一物资请合并为一行 (each item may appear once)")
    lines = []
    for code, quantity in command.lines:
        item = await item_by_code(session, code)
        if not item.active:
            raise Conflict(f"物资已停用：{code} (item {code} is inactive)")
        lines.append(
            {
                "item_id": str(item.id),
                "item_code": item.code,
                "item_name": item.name,
                "unit": item.unit,
                "quantity": quantity,
            }
        )
    number = (await session.execute(text("SELECT nextval('dispatch_no_seq')"))).scalar_one()
    dispatch_id = uuid7()
    at = command.requested_at
    row = (
        await session.execute(
            pg_insert(dispatches)
            .values(
                id=dispatch_id,
                dispatch_no=f"DP-{at.year}-{number:06d}",
                kind="transfer" if target is not None else "dispatch",
                status=REQUESTED,
                from_warehouse_id=source.id,
                destination_kind=dest.kind,
                destination_name=name,
                destination_town=town,
                destination_address=dest.address,
                destination_warehouse_id=target.id if target is not None else None,
                incident_code=command.incident_code,
                incident_name=command.incident_name,
                urgency=command.urgency,
                lines=lines,
                note=command.note,
                requested_by=command.actor,
                requested_at=at,
                version=1,
                updated_at=at,
            )
            .returning(dispatches)
        )
    ).one()
    head = _head(row, source.code, source.name, target.code if target is not None else None)
    _publish(
        tx,
        row,
        contracts.DISPATCH_REQUESTED,
        contracts.DispatchRequestedV1(**head, lines=requested_lines(row), requested_at=at),
    )
    await audit(
        session,
        actor=command.actor,
        action="dispatch.request",
        entity_type="dispatch",
        entity_id=str(dispatch_id),
        at=at,
        detail={"dispatch_no": row.dispatch_no, "lines": lines},
    )
    return _outcome(row, [], head)


# --------------------------------------------------------------------------- transitions


async def _transition(
    session: AsyncSession,
    dispatch_id: uuid.UUID,
    action: str,
    expected_version: int | None,
) -> tuple[Row[Any], str, dict[str, Any]]:
    """Lock the dispatch; its row, the status ``action`` leads to, and its event header
    (read in the same query: the warehouses of a dispatch never change)."""
    source, target = warehouses.alias("source"), warehouses.alias("target")
    row = (
        await session.execute(
            select(
                dispatches,
                source.c.code.label("source_code"),
                source.c.name.label("source_name"),
                target.c.code.label("target_code"),
            )
            .join(source, source.c.id == dispatches.c.from_warehouse_id)
            .outerjoin(target, target.c.id == dispatches.c.destination_warehouse_id)
            .where(dispatches.c.id == dispatch_id)
            .with_for_update(of=dispatches)
        )
    ).first()
    if row is None:
        raise NotFound(f"调拨单不存在 (dispatch {dispatch_id} not found)")
    _check_version(row, expected_version)
    head = _head(row, row.source_code, row.source_name, row.target_code)
    return row, transition(row.status, action), head


async def _save(
    session: AsyncSession, row: Row[Any], status: str, at: datetime, **values: Any
) -> Row[Any]:
    saved: Row[Any] = (
        await session.execute(
            update(dispatches)
            .where(dispatches.c.id == row.id)
            .values(status=status, version=dispatches.c.version + 1, updated_at=at, **values)
            .returning(dispatches)
        )
    ).one()
    return saved


async def approve(
    tx: Tx, dispatch_id: uuid.UUID, *, actor: str, expected_version: int | None = None
) -> Outcome:
    at = datetime.now(UTC)
    row, status, head = await _transition(tx.session, dispatch_id, "approve", expected_version)
    approver_allowed(row.requested_by, actor)
    row = await _save(tx.session, row, status, at, approved_by=actor, approved_at=at)
    _publish(
        tx,
        row,
        contracts.DISPATCH_APPROVED,
        contracts.DispatchApprovedV1(**head, lines=requested_lines(row), approved_at=at),
    )
    await audit(
        tx.session,
        actor=actor,
        action="dispatch.approve",
        entity_type="dispatch",
        entity_id=str(row.id),
        at=at,
    )
    return _outcome(row, [], head)  # nothing is allocated before picking


async def _release(book: StockBook, row: Row[Any]) -> list[ReleasedLotV1]:
    if not holds_reservation(row.status):
        return []
    allocs = await allocations_of(book.session, row.id)
    await book.lock({(a.warehouse_id, a.item_id) for a in allocs})
    released = []
    for a in allocs:
        await book.move(
            lot_id=a.lot_id,
            movement="release",
            reserved_delta=-a.quantity,
            reference_type="dispatch",
            reference_id=row.id,
            reference_no=row.dispatch_no,
        )
        released.append(ReleasedLotV1(lot_id=a.lot_id, item_code=a.item_code, quantity=a.quantity))
    return released


async def reject_or_cancel(
    tx: Tx,
    dispatch_id: uuid.UUID,
    *,
    action: str,
    actor: str,
    reason: str,
    expected_version: int | None = None,
) -> None:
    at = datetime.now(UTC)
    row, status, head = await _transition(tx.session, dispatch_id, action, expected_version)
    if action == "reject":
        approver_allowed(row.requested_by, actor)
    book = StockBook(tx, actor=actor, at=at)
    released = await _release(book, row)
    before = row
    row = await _save(
        tx.session, row, status, at, closed_by=actor, closed_at=at, decided_reason=reason
    )
    if action == "reject":
        _publish(
            tx,
            row,
            contracts.DISPATCH_REJECTED,
            contracts.DispatchRejectedV1(**head, reason=reason, released=released, rejected_at=at),
        )
    else:
        _publish(
            tx,
            row,
            contracts.DISPATCH_CANCELLED,
            contracts.DispatchCancelledV1(
                **head, reason=reason, released=released, cancelled_at=at
            ),
        )
    await book.publish_levels()
    await audit(
        tx.session,
        actor=actor,
        action=f"dispatch.{action}",
        entity_type="dispatch",
        entity_id=str(row.id),
        at=at,
        detail={"reason": reason, "from_status": before.status, "released": len(released)},
    )


async def pick(
    tx: Tx,
    dispatch_id: uuid.UUID,
    *,
    actor: str,
    min_days: int,
    today: date | None = None,
    expected_version: int | None = None,
) -> Outcome:
    session = tx.session
    at = datetime.now(UTC)
    today = today or local_today(at)
    row, status, head = await _transition(session, dispatch_id, "pick", expected_version)
    # Everything that does not depend on the stock first: the levels locked below are what
    # parallel picks and shipments of the same item queue for, so that lock is held only for
    # choosing the lots, moving them and what records the choice.
    row = await _save(session, row, status, at, picked_by=actor, picked_at=at)
    book = StockBook(tx, actor=actor, at=at)
    lines = row.lines
    await book.lock({(row.from_warehouse_id, uuid.UUID(line["item_id"])) for line in lines})
    allocations: list[dict[str, Any]] = []
    picked: list[Picked] = []
    for line in sorted(lines, key=lambda x: x["item_id"]):
        item_id = uuid.UUID(line["item_id"])
        candidates = (
            await session.execute(
                select(lots)
                .where(
                    lots.c.warehouse_id == row.from_warehouse_id,
                    lots.c.item_id == item_id,
                    lots.c.on_hand > lots.c.reserved,
                )
                .with_for_update()
            )
        ).all()
        chosen = pick_lots(
            [
                LotStock(c.id, c.lot_no, c.expiry_date, c.on_hand, c.reserved, c.received_at)
                for c in candidates
            ],
            int(line["quantity"]),
            today=today,
            min_days=min_days,
            item=line["item_code"],
        )
        by_id = {c.id: c for c in candidates}
        for lot, quantity in chosen:
            await book.move(
                lot_id=lot.lot_id,
                movement="reservation",
                reserved_delta=quantity,
                reference_type="dispatch",
                reference_id=row.id,
                reference_no=row.dispatch_no,
            )
            allocations.append(
                {
                    "id": uuid7(),
                    "dispatch_id": row.id,
                    "item_id": item_id,
                    "lot_id": lot.lot_id,
                    "quantity": quantity,
                }
            )
            c = by_id[lot.lot_id]
            picked.append(
                Picked(
                    lot_id=c.id,
                    item_id=item_id,
                    warehouse_id=c.warehouse_id,
                    item_code=line["item_code"],
                    item_name=line["item_name"],
                    unit=line["unit"],
                    quantity=quantity,
                    lot_no=c.lot_no,
                    expiry_date=c.expiry_date,
                    source_kind=c.source_kind,
                    donation_id=c.donation_id,
                    tracking_code=c.tracking_code,
                )
            )
    if allocations:
        await session.execute(pg_insert(dispatch_allocations), allocations)
    # in the order allocations_of reads them back
    allocs = sorted(
        picked,
        key=lambda a: (a.item_code, a.expiry_date is None, a.expiry_date or date.max, a.lot_no),
    )
    _publish(
        tx,
        row,
        contracts.DISPATCH_PICKED,
        contracts.DispatchPickedV1(**head, lines=picked_lines(allocs), picked_at=at),
    )
    await book.publish_levels()
    await audit(
        session,
        actor=actor,
        action="dispatch.pick",
        entity_type="dispatch",
        entity_id=str(row.id),
        at=at,
        detail={"lots": [{"lot_id": str(a.lot_id), "quantity": a.quantity} for a in allocs]},
    )
    return _outcome(row, allocs, head)


async def ship(
    tx: Tx,
    dispatch_id: uuid.UUID,
    *,
    actor: str,
    waybill_no: str,
    carrier: str | None,
    expected_version: int | None = None,
) -> Outcome:
    session = tx.session
    at = datetime.now(UTC)
    row, status, head = await _transition(session, dispatch_id, "ship", expected_version)
    if not waybill_no.strip():
        raise ValidationFailed("请填写运单号 waybill_no (waybill number required)")
    # As in pick: all that does not touch stock before the (contended) level locks.
    allocs = await allocations_of(session, row.id)
    row = await _save(
        session,
        row,
        status,
        at,
        waybill_no=waybill_no,
        carrier=carrier,
        shipped_by=actor,
        shipped_at=at,
    )
    await audit(
        session,
        actor=actor,
        action="dispatch.ship",
        entity_type="dispatch",
        entity_id=str(row.id),
        at=at,
        detail={"waybill_no": waybill_no, "carrier": carrier},
    )
    _publish(
        tx,
        row,
        contracts.DISPATCH_SHIPPED,
        contracts.DispatchShippedV1(
            **head,
            waybill_no=waybill_no,
            carrier=carrier,
            lines=picked_lines(allocs),
            shipped_at=at,
        ),
    )
    book = StockBook(tx, actor=actor, at=at)
    await book.lock({(a.warehouse_id, a.item_id) for a in allocs})
    for a in allocs:
        await book.move(
            lot_id=a.lot_id,
            movement="shipment",
            on_hand_delta=-a.quantity,
            reserved_delta=-a.quantity,
            reference_type="dispatch",
            reference_id=row.id,
            reference_no=row.dispatch_no,
            note=f"运单 {waybill_no}",
        )
    await book.publish_levels()
    return _outcome(row, allocs, head)


async def deliver(
    tx: Tx, dispatch_id: uuid.UUID, command: Deliver, *, expected_version: int | None = None
) -> None:
    session = tx.session
    at = command.delivered_at
    row, status, head = await _transition(session, dispatch_id, "deliver", expected_version)
    if not command.recipient_name.strip():
        raise ValidationFailed("请填写签收人 recipient_name (recipient name required)")
    if row.shipped_at is not None and at < row.shipped_at:
        raise ValidationFailed("签收时间不能早于发运时间 (delivered_at is before shipped_at)")
    if at > datetime.now(UTC) + timedelta(minutes=5):
        raise ValidationFailed("签收时间不能是将来 (delivered_at is in the future)")
    allocs = await allocations_of(session, row.id)
    shipped_by_item: dict[str, list[Row[Any]]] = defaultdict(list)
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
        if returned[a.lot_id] > a.quantity:
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
        pairs |= {(target.id, a.item_id) for a in allocs if a.quantity > returned[a.lot_id]}
    await book.lock(pairs)
    lines: list[DeliveredLineV1] = []
    for code, rows in shipped_by_item.items():
        lot_lines = []
        for a in rows:
            back = returned[a.lot_id]
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
                .values(delivered_quantity=a.quantity - back, returned_quantity=back)
            )
            lot_lines.append(
                DeliveredLotV1(
                    lot_id=a.lot_id,
                    lot_no=a.lot_no,
                    shipped_quantity=a.quantity,
                    delivered_quantity=a.quantity - back,
                    returned_quantity=back,
                    donation_id=a.donation_id,
                    tracking_code=a.tracking_code,
                )
            )
        lines.append(
            DeliveredLineV1(
                item_code=code,
                item_name=rows[0].item_name,
                unit=rows[0].unit,
                shipped_quantity=sum(x.shipped_quantity for x in lot_lines),
                delivered_quantity=sum(x.delivered_quantity for x in lot_lines),
                returned_quantity=sum(x.returned_quantity for x in lot_lines),
                lots=lot_lines,
            )
        )
    any_returned = any(returned.values())
    row = await _save(
        session,
        row,
        status,
        at,
        recipient_name=command.recipient_name.strip(),
        recipient_phone=command.recipient_phone,
        recipient_org=command.recipient_org,
        delivery_note=command.note,
        delivered_at=at,
        delivered_by=command.actor,
    )
    _publish(
        tx,
        row,
        contracts.DISPATCH_DELIVERED,
        contracts.DispatchDeliveredV1(
            **head,
            recipient_name_masked=mask_person_name(command.recipient_name),
            recipient_org=command.recipient_org,
            partial=any_returned,
            lines=lines,
            returned_to_warehouse_code=head["from_warehouse_code"] if any_returned else None,
            delivered_at=at,
        ),
    )
    if target is not None:
        await _land_transfer(tx, book, row, target, allocs, returned)
    await book.publish_levels()
    await audit(
        session,
        actor=command.actor,
        action="dispatch.deliver",
        entity_type="dispatch",
        entity_id=str(row.id),
        at=at,
        detail={
            "recipient_org": command.recipient_org,
            "returns": {str(k): v for k, v in returned.items() if v},
        },
    )


async def _land_transfer(
    tx: Tx,
    book: StockBook,
    row: Row[Any],
    target: Row[Any],
    allocs: list[Row[Any]],
    returned: dict[uuid.UUID, int],
) -> None:
    """The delivered quantities of a transfer arrive at the destination as a received inbound."""
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
        quantity = a.quantity - returned[a.lot_id]
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
