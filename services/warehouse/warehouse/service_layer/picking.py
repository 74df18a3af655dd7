"""Picking a dispatch (拣货): lots chosen first-expiry-first-out and reserved.

The choice is the domain's (:func:`warehouse.domain.model.pick_fefo`); here the candidate lots
are read and locked, the reservations moved through the :class:`StockBook` and the choice
recorded as the dispatch's allocations.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.contracts import warehouse as contracts
from shared.ids import uuid7
from warehouse.adapters.orm import dispatch_allocations, lots
from warehouse.domain.commands import PickDispatch
from warehouse.domain.model import LotStock, is_pickable, local_today, may_pick_designated
from warehouse.service_layer import clock
from warehouse.service_layer.dispatch_rows import DispatchRows, rows_of
from warehouse.service_layer.dispatch_steps import (
    Outcome,
    Picked,
    begin,
    outcome,
    picked_lines,
    publish,
    save,
)
from warehouse.service_layer.errors import InsufficientStock, pick_lots
from warehouse.service_layer.stock import StockBook
from warehouse.service_layer.tx import Tx


async def pick_dispatch(tx: Tx, command: PickDispatch, rows: DispatchRows | None = None) -> Outcome:
    """Pick an approved dispatch: for each line, lots first-expiry-first-out (never one with
    less than ``min_days`` of shelf life left), reserved; all lines or none (409)."""
    rows = rows or rows_of(tx)
    session = tx.session
    actor, min_days = command.actor, command.min_days
    at = clock.now()
    today = command.today or local_today(at)
    row, status, head = await begin(
        rows,
        command.dispatch_id,
        "pick",
        command.expected_version,
        actor_org=command.actor_org,
        session=tx.session,
    )
    # Everything that does not depend on the stock first: the levels locked below are what
    # parallel picks and shipments of the same item queue for, so that lock is held only for
    # choosing the lots, moving them and what records the choice.
    row = await save(rows, row, status, at, picked_by=actor, picked_at=at)
    book = StockBook(tx, actor=actor, at=at)
    lines = row.lines
    # lots designated to a project go only to a dispatch serving it, unless an approver
    # overrode that with a reason when approving
    override = row.designated_override_reason is not None
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
        allowed = [
            c
            for c in candidates
            if may_pick_designated(c.designated_project, row.project_code, override=override)
        ]
        chosen = _pick(
            allowed,
            [c for c in candidates if c.id not in {a.id for a in allowed}],
            int(line["quantity"]),
            today=today,
            min_days=min_days,
            item=line["item_code"],
            project_code=row.project_code,
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
                    designated_project=c.designated_project,
                    disbursement_id=c.disbursement_id,
                )
            )
    if allocations:
        await session.execute(pg_insert(dispatch_allocations), allocations)
    # in the order rows.allocations reads them back
    allocs = sorted(
        picked,
        key=lambda a: (a.item_code, a.expiry_date is None, a.expiry_date or date.max, a.lot_no),
    )
    publish(
        tx,
        row,
        contracts.DISPATCH_PICKED,
        contracts.DispatchPickedV1(**head, lines=picked_lines(allocs), picked_at=at),
    )
    await book.publish_levels()
    await rows.audit(
        actor=actor,
        action="dispatch.pick",
        entity_id=str(row.id),
        at=at,
        detail={"lots": [{"lot_id": str(a.lot_id), "quantity": a.quantity} for a in allocs]},
    )
    return outcome(row, allocs, head)


def _lot_stock(c: Any) -> LotStock:
    return LotStock(c.id, c.lot_no, c.expiry_date, c.on_hand, c.reserved, c.received_at)


def _pick(
    allowed: list[Any],
    held: list[Any],
    quantity: int,
    *,
    today: date,
    min_days: int,
    item: str,
    project_code: str | None,
) -> list[tuple[LotStock, int]]:
    """FEFO over the lots the dispatch may take; a 409 that says so when lots designated to
    another project (``held``) were held back and the rest is not enough."""
    try:
        return pick_lots(
            [_lot_stock(c) for c in allowed], quantity, today=today, min_days=min_days, item=item
        )
    except InsufficientStock as exc:
        stock = [_lot_stock(c) for c in held]
        held_back = sum(
            s.available for s in stock if is_pickable(s, today=today, min_days=min_days)
        )
        if not held_back:
            raise
        projects = sorted({str(c.designated_project) for c in held})
        serves = f"项目 {project_code}" if project_code else "未指定项目"
        raise InsufficientStock(
            f"{exc.message}；另有 {held_back} 为定向捐赠给 {'、'.join(projects)} 的批次，"
            f"本调拨单（{serves}）不能使用，须审批人填写理由特批 "
            f"(designated lots held back: {held_back} units are designated to "
            f"{', '.join(projects)}; an approver may override with a reason)",
            details={
                **exc.details,
                "designated_held_back": held_back,
                "designated_projects": projects,
                "project_code": project_code,
            },
        ) from exc
