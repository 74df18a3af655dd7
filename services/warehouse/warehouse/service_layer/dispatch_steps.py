"""What every step of a dispatch shares: locking it for the step, saving it, its events.

A step (``dispatch``, ``picking``, ``delivery``) locks the dispatch through
:class:`~warehouse.service_layer.dispatch_rows.DispatchRows` (:func:`begin`), checks the
version the caller read and the state machine, writes the row (:func:`save`) and publishes its
event, which starts with :func:`event_head`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.warehouse import (
    TOPIC,
    DestinationV1,
    PickedLineV1,
    PickedLotV1,
    RequestedLineV1,
)
from shared.errors import Conflict, NotFound
from warehouse.service_layer import scope
from warehouse.service_layer.dispatch_rows import DispatchRows
from warehouse.service_layer.errors import transition
from warehouse.service_layer.tx import Tx


@dataclass(frozen=True)
class Outcome:
    """What a step leaves behind, so the answer is built without reading it all again: the
    dispatch row after the step, its allocations and the codes of the warehouses it names."""

    row: Any
    allocations: Sequence[Any]  # rows of allocations_of, or Picked
    codes: dict[uuid.UUID, str]


def outcome(row: Any, allocs: Sequence[Any], head: dict[str, Any]) -> Outcome:
    codes = {row.from_warehouse_id: head["from_warehouse_code"]}
    if row.destination_warehouse_id is not None:
        codes[row.destination_warehouse_id] = head["destination"].warehouse_code
    return Outcome(row, allocs, codes)


@dataclass(frozen=True)
class Picked:
    """An allocation just made by picking, with what ``allocations_of`` would read back for it
    (the lot's and the item's columns)."""

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
    designated_project: str | None = None
    disbursement_id: uuid.UUID | None = None
    delivered_quantity: int | None = None
    returned_quantity: int | None = None


def event_head(
    row: Any, source_code: str, source_name: str, target_code: str | None
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
        "project_code": row.project_code,
    }


def requested_lines(row: Any) -> list[RequestedLineV1]:
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
                    designated_project=r.designated_project,
                    disbursement_id=r.disbursement_id,
                )
                for r in rows
            ],
        )
        for code, rows in by_item.items()
    ]


def publish(tx: Tx, row: Any, type_: str, payload: Any) -> None:
    """Stage a dispatch event, keyed by the dispatch."""
    tx.publish(topic=TOPIC, key=str(row.id), subject=str(row.id), type=type_, payload=payload)


def _check_version(row: Any, expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise Conflict(
            "调拨单已被他人修改，请刷新后重试 (version mismatch: the dispatch was changed)",
            details={"current_version": row.version},
        )


async def begin(
    rows: DispatchRows,
    dispatch_id: uuid.UUID,
    action: str,
    expected_version: int | None,
    *,
    actor_org: str,
    session: AsyncSession,
    receiving: bool = False,
) -> tuple[Any, str, dict[str, Any]]:
    """Lock the dispatch; its row, the status ``action`` leads to, and its event header
    (read in the same query: the warehouses of a dispatch never change). Staff of
    ``actor_org`` must reach it (its source warehouse's organisation; on a transfer's
    sign-off, ``receiving``, its destination's too): 403 otherwise, before anything else is
    told about it."""
    row = await rows.lock(dispatch_id)
    if row is None:
        raise NotFound(f"调拨单不存在 (dispatch {dispatch_id} not found)")
    await scope.ensure_reaches_dispatch(session, actor_org, row, receiving=receiving)
    _check_version(row, expected_version)
    head = event_head(row, row.source_code, row.source_name, row.target_code)
    return row, transition(row.status, action), head


async def save(rows: DispatchRows, row: Any, status: str, at: datetime, **values: Any) -> Any:
    """Write the step: the new ``status``, ``values``, the next version; the row as written."""
    return await rows.save(row.id, {"status": status, "updated_at": at, **values})
