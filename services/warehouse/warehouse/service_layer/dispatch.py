"""Dispatch (调拨/出库) lifecycle: request → approve (another person) → pick → ship (waybill)
→ deliver; reject and cancel release the reservations picking made.

Picking (FEFO) is ``warehouse.service_layer.picking``, the sign-off (returns, a transfer's
landing) ``warehouse.service_layer.delivery``. Every step reads and writes the dispatch through
:class:`~warehouse.service_layer.dispatch_rows.DispatchRows`: the SQL one unless a test passes
another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contracts import warehouse as contracts
from shared.contracts.warehouse import ReleasedLotV1
from shared.errors import Conflict, ValidationFailed
from shared.ids import uuid7
from warehouse.domain.commands import (
    ApproveDispatch,
    CancelDispatch,
    RejectDispatch,
    RequestDispatch,
    ShipDispatch,
)
from warehouse.domain.model import REQUESTED, TOWNS, holds_reservation
from warehouse.service_layer import clock, scope
from warehouse.service_layer.dispatch_rows import DispatchRows, rows_of
from warehouse.service_layer.dispatch_steps import (
    Outcome,
    begin,
    event_head,
    outcome,
    picked_lines,
    publish,
    requested_lines,
    save,
)
from warehouse.service_layer.errors import approver_allowed
from warehouse.service_layer.stock import StockBook, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx

# --------------------------------------------------------------------------- request


async def request_dispatch(
    tx: Tx, command: RequestDispatch, rows: DispatchRows | None = None
) -> Outcome:
    """Record a dispatch request; the new dispatch."""
    rows = rows or rows_of(tx)
    session = tx.session
    source = await warehouse_by_code(session, command.from_warehouse_code)
    await scope.ensure_reaches(session, command.actor_org, source)
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
    number = await rows.next_number()
    dispatch_id = uuid7()
    at = command.requested_at
    row = await rows.add(
        {
            "id": dispatch_id,
            "dispatch_no": f"DP-{at.year}-{number:06d}",
            "kind": "transfer" if target is not None else "dispatch",
            "status": REQUESTED,
            "from_warehouse_id": source.id,
            "destination_kind": dest.kind,
            "destination_name": name,
            "destination_town": town,
            "destination_address": dest.address,
            "destination_warehouse_id": target.id if target is not None else None,
            "incident_code": command.incident_code,
            "incident_name": command.incident_name,
            "urgency": command.urgency,
            "project_code": command.project_code,
            "lines": lines,
            "note": command.note,
            "requested_by": command.actor,
            "requested_at": at,
            "version": 1,
            "updated_at": at,
        }
    )
    head = event_head(row, source.code, source.name, target.code if target is not None else None)
    publish(
        tx,
        row,
        contracts.DISPATCH_REQUESTED,
        contracts.DispatchRequestedV1(**head, lines=requested_lines(row), requested_at=at),
    )
    await rows.audit(
        actor=command.actor,
        action="dispatch.request",
        entity_id=str(dispatch_id),
        at=at,
        detail={"dispatch_no": row.dispatch_no, "lines": lines},
    )
    return outcome(row, [], head)


# --------------------------------------------------------------------------- decisions


async def approve_dispatch(
    tx: Tx, command: ApproveDispatch, rows: DispatchRows | None = None
) -> Outcome:
    """Approve a requested dispatch: someone other than its requester."""
    rows = rows or rows_of(tx)
    at = clock.now()
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "approve",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
    )
    approver_allowed(row.requested_by, command.actor)
    override = (command.designated_override_reason or "").strip() or None
    row = await save(
        rows,
        row,
        status,
        at,
        approved_by=command.actor,
        approved_at=at,
        designated_override_reason=override,
    )
    publish(
        tx,
        row,
        contracts.DISPATCH_APPROVED,
        contracts.DispatchApprovedV1(
            **head,
            lines=requested_lines(row),
            approved_at=at,
            designated_override=override is not None,
        ),
    )
    await rows.audit(
        actor=command.actor,
        action="dispatch.approve",
        entity_id=str(row.id),
        at=at,
        # an override of the goods' designation is recorded with its reason
        detail={"designated_override": override, "project_code": row.project_code}
        if override
        else None,
    )
    return outcome(row, [], head)  # nothing is allocated before picking


async def reject_dispatch(
    tx: Tx, command: RejectDispatch, rows: DispatchRows | None = None
) -> None:
    """Reject an open dispatch (not by its requester); a picked one's reservations are released."""
    rows = rows or rows_of(tx)
    at = clock.now()
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "reject",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
    )
    approver_allowed(row.requested_by, command.actor)
    book = StockBook(tx, actor=command.actor, at=at)
    released = await _release(rows, book, row)
    saved = await _close(rows, row, status, at, command.actor, command.reason)
    publish(
        tx,
        saved,
        contracts.DISPATCH_REJECTED,
        contracts.DispatchRejectedV1(
            **head, reason=command.reason, released=released, rejected_at=at
        ),
    )
    await book.publish_levels()
    await _audit_close(rows, row, "reject", command.actor, command.reason, released, at)


async def cancel_dispatch(
    tx: Tx, command: CancelDispatch, rows: DispatchRows | None = None
) -> None:
    """Cancel an open dispatch; a picked one's reservations are released."""
    rows = rows or rows_of(tx)
    at = clock.now()
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "cancel",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
    )
    book = StockBook(tx, actor=command.actor, at=at)
    released = await _release(rows, book, row)
    saved = await _close(rows, row, status, at, command.actor, command.reason)
    publish(
        tx,
        saved,
        contracts.DISPATCH_CANCELLED,
        contracts.DispatchCancelledV1(
            **head, reason=command.reason, released=released, cancelled_at=at
        ),
    )
    await book.publish_levels()
    await _audit_close(rows, row, "cancel", command.actor, command.reason, released, at)


async def _release(rows: DispatchRows, book: StockBook, row: Any) -> list[ReleasedLotV1]:
    """Release what picking reserved (nothing before picking)."""
    if not holds_reservation(row.status):
        return []
    allocs = await rows.allocations(row.id)
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


async def _close(
    rows: DispatchRows, row: Any, status: str, at: datetime, actor: str, reason: str
) -> Any:
    return await save(rows, row, status, at, closed_by=actor, closed_at=at, decided_reason=reason)


async def _audit_close(
    rows: DispatchRows,
    before: Any,
    action: str,
    actor: str,
    reason: str,
    released: list[ReleasedLotV1],
    at: datetime,
) -> None:
    await rows.audit(
        actor=actor,
        action=f"dispatch.{action}",
        entity_id=str(before.id),
        at=at,
        detail={"reason": reason, "from_status": before.status, "released": len(released)},
    )


# --------------------------------------------------------------------------- shipping


async def ship_dispatch(tx: Tx, command: ShipDispatch, rows: DispatchRows | None = None) -> Outcome:
    """Ship a picked dispatch with its waybill: the reserved lots leave the warehouse."""
    rows = rows or rows_of(tx)
    at = clock.now()
    actor, waybill_no, carrier = command.actor, command.waybill_no, command.carrier
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "ship",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
    )
    if not waybill_no.strip():
        raise ValidationFailed("请填写运单号 waybill_no (waybill number required)")
    # As in picking: all that does not touch stock before the (contended) level locks.
    allocs = await rows.allocations(row.id)
    row = await save(
        rows,
        row,
        status,
        at,
        waybill_no=waybill_no,
        carrier=carrier,
        shipped_by=actor,
        shipped_at=at,
    )
    await rows.audit(
        actor=actor,
        action="dispatch.ship",
        entity_id=str(row.id),
        at=at,
        detail={"waybill_no": waybill_no, "carrier": carrier},
    )
    publish(
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
    return outcome(row, allocs, head)
