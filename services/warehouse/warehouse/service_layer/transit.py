"""The receiving station's confirmation of a transfer (收货确认), with discrepancies.

``POST /api/v1/dispatches/{id}/receive`` is the sign-off of a shipped *transfer* by the station
it goes to: per item, what arrived (received), what did not (short) and what arrived damaged,
with a reason whenever short or damaged is more than zero; an item left out arrived in full.
Received + short + damaged must be what was shipped of the item.

- Short and damaged units do not land in the destination and do not go back to the sender: the
  sign-off (``delivery.deliver_dispatch``, with ``lost``) lands only the received units. Each is
  a ``transfer_discrepancies`` row per lot — spread over the lots shipped like returns, latest
  expiry first (``allocate_returns``), short first, then damaged — valued at the lot's unit
  value, audited, and shown with the dispatch to the sender.
- The plain ``/deliver`` stays as it was (returns go back to the sender).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.errors import NotFound, ValidationFailed
from shared.ids import uuid7
from warehouse.adapters.orm import lots, transfer_discrepancies
from warehouse.domain.commands import DeliverDispatch
from warehouse.domain.model import allocate_returns
from warehouse.service_layer import scope
from warehouse.service_layer.delivery import deliver_dispatch
from warehouse.service_layer.dispatch_rows import rows_of
from warehouse.service_layer.errors import transition
from warehouse.service_layer.stock import audit
from warehouse.service_layer.tx import Tx

SHORT, DAMAGED = "short", "damaged"


@dataclass(frozen=True)
class ReceivedLine:
    item_code: str
    received: int
    short: int = 0
    damaged: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class Loss:
    lot_id: uuid.UUID
    item_id: uuid.UUID
    kind: str  # short | damaged
    quantity: int
    reason: str


def spread_losses(allocs: list[Any], lines: list[ReceivedLine]) -> list[Loss]:
    """Check ``lines`` against what was shipped (``allocs``: lot_id, item_id, item_code,
    quantity, expiry_date); the losses per lot, short first then damaged, latest expiry first."""
    shipped: dict[str, list[Any]] = defaultdict(list)
    for a in allocs:
        shipped[a.item_code].append(a)
    seen: set[str] = set()
    losses: list[Loss] = []
    for line in lines:
        if line.item_code in seen:
            raise ValidationFailed(f"同一物资请合并为一行：{line.item_code} (each item once)")
        seen.add(line.item_code)
        of_item = shipped.get(line.item_code)
        if not of_item:
            raise ValidationFailed(
                f"物资不在本调拨单中：{line.item_code} (not on this transfer)",
                details={"item_code": line.item_code},
            )
        total = sum(a.quantity for a in of_item)
        stated = line.received + line.short + line.damaged
        if stated != total:
            raise ValidationFailed(
                f"{line.item_code} 实收 {line.received} + 短少 {line.short} + 破损 {line.damaged}"
                f" = {stated}，与发运数量 {total} 不符"
                f" (received + short + damaged must equal the {total} shipped)",
                details={"item_code": line.item_code, "shipped": total, "stated": stated},
            )
        if (line.short or line.damaged) and not (line.reason or "").strip():
            raise ValidationFailed(
                f"{line.item_code} 有短少或破损时须填写原因 (a reason is required)"
            )
        left = {a.lot_id: a.quantity for a in of_item}
        for kind, quantity in ((SHORT, line.short), (DAMAGED, line.damaged)):
            if quantity == 0:
                continue
            remaining = [(a.lot_id, left[a.lot_id], a.expiry_date) for a in of_item]
            for lot_id, taken in allocate_returns(remaining, quantity).items():
                if taken == 0:
                    continue
                left[lot_id] -= taken
                item_id = next(a.item_id for a in of_item if a.lot_id == lot_id)
                losses.append(Loss(lot_id, item_id, kind, taken, str(line.reason).strip()))
    return losses


async def receive_transfer(
    tx: Tx,
    dispatch_id: uuid.UUID,
    *,
    recipient_name: str,
    recipient_phone: str | None,
    received_at: datetime,
    note: str | None,
    lines: list[ReceivedLine],
    actor: str,
    actor_org: str,
    expected_version: int | None,
) -> None:
    """Sign off a shipped transfer as its receiving station: the received units land, the
    short and damaged ones are recorded as discrepancies."""
    session = tx.session
    rows = rows_of(tx)
    row = await rows.lock(dispatch_id)
    if row is None:
        raise NotFound(f"调拨单不存在 (dispatch {dispatch_id} not found)")
    await scope.ensure_reaches_dispatch(session, actor_org, row, receiving=True)
    if row.kind != "transfer":
        raise ValidationFailed(
            "收货确认仅用于调拨到仓库的调拨单，其他请用签收 /deliver"
            " (receive is for transfers between warehouses; sign others off with /deliver)"
        )
    transition(row.status, "deliver")  # 409 unless shipped
    allocs = await rows.allocations(dispatch_id)
    losses = spread_losses(allocs, lines)
    lost: dict[uuid.UUID, int] = defaultdict(int)
    for loss in losses:
        lost[loss.lot_id] += loss.quantity
    await deliver_dispatch(
        tx,
        DeliverDispatch(
            dispatch_id=dispatch_id,
            recipient_name=recipient_name,
            actor=actor,
            actor_org=actor_org,
            recipient_phone=recipient_phone,
            recipient_org=None,
            note=note,
            delivered_at=received_at,
            expected_version=expected_version,
        ),
        rows,
        lost=lost,
    )
    if not losses:
        return
    values = {
        r.id: r.unit_value_fen
        for r in await session.execute(
            select(lots.c.id, lots.c.unit_value_fen).where(
                lots.c.id.in_({loss.lot_id for loss in losses})
            )
        )
    }
    await session.execute(
        pg_insert(transfer_discrepancies),
        [
            {
                "id": uuid7(),
                "dispatch_id": dispatch_id,
                "item_id": loss.item_id,
                "lot_id": loss.lot_id,
                "kind": loss.kind,
                "quantity": loss.quantity,
                "value_fen": loss.quantity * values[loss.lot_id],
                "reason": loss.reason,
                "recorded_by": actor,
                "recorded_at": received_at,
            }
            for loss in losses
        ],
    )
    await audit(
        session,
        actor=actor,
        action="dispatch.receive.discrepancy",
        entity_type="dispatch",
        entity_id=str(dispatch_id),
        at=received_at,
        detail={
            "discrepancies": [
                {
                    "lot_id": str(x.lot_id),
                    "kind": x.kind,
                    "quantity": x.quantity,
                    "reason": x.reason,
                }
                for x in losses
            ]
        },
    )
