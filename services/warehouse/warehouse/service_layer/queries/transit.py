"""Reading transfers on the way and what did not arrive: the shipped transfers not yet received
(per destination, with their age), and the discrepancies the receiving stations recorded."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import (
    dispatch_allocations,
    dispatches,
    items,
    lots,
    transfer_discrepancies,
    warehouses,
)
from warehouse.domain.model import SHANGHAI, SHIPPED
from warehouse.service_layer import scope as scope_rule

_from = warehouses.alias("from_wh")
_to = warehouses.alias("to_wh")


def _discrepancy_query() -> Any:
    return (
        select(
            transfer_discrepancies,
            dispatches.c.dispatch_no,
            _from.c.code.label("from_warehouse_code"),
            _to.c.code.label("to_warehouse_code"),
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.unit,
            lots.c.lot_no,
        )
        .join(dispatches, dispatches.c.id == transfer_discrepancies.c.dispatch_id)
        .join(_from, _from.c.id == dispatches.c.from_warehouse_id)
        .join(_to, _to.c.id == dispatches.c.destination_warehouse_id)
        .join(items, items.c.id == transfer_discrepancies.c.item_id)
        .join(lots, lots.c.id == transfer_discrepancies.c.lot_id)
    )


def _discrepancy(r: Any) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "dispatch_id": str(r.dispatch_id),
        "dispatch_no": r.dispatch_no,
        "from_warehouse_code": r.from_warehouse_code,
        "to_warehouse_code": r.to_warehouse_code,
        "item_code": r.item_code,
        "item_name": r.item_name,
        "unit": r.unit,
        "lot_id": str(r.lot_id),
        "lot_no": r.lot_no,
        "kind": r.kind,
        "quantity": r.quantity,
        "value_fen": r.value_fen,
        "reason": r.reason,
        "recorded_by": r.recorded_by,
        "recorded_at": r.recorded_at.isoformat(),
    }


async def discrepancies_of(session: AsyncSession, dispatch_id: uuid.UUID) -> list[dict[str, Any]]:
    """A transfer's discrepancies (its detail shows them to the sender)."""
    rows = await session.execute(
        _discrepancy_query()
        .where(transfer_discrepancies.c.dispatch_id == dispatch_id)
        .order_by(items.c.code, transfer_discrepancies.c.kind, lots.c.lot_no)
    )
    return [_discrepancy(r) for r in rows]


def _filtered(
    from_code: str | None, to_code: str | None, dispatch_id: uuid.UUID | None, scope: str | None
) -> Any:
    query = scope_rule.dispatches_within(_discrepancy_query(), scope)
    if from_code:
        query = query.where(_from.c.code == from_code)
    if to_code:
        query = query.where(_to.c.code == to_code)
    if dispatch_id:
        query = query.where(transfer_discrepancies.c.dispatch_id == dispatch_id)
    return query


async def list_discrepancies(
    session: AsyncSession,
    *,
    from_code: str | None,
    to_code: str | None,
    dispatch_id: uuid.UUID | None,
    scope: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Discrepancies, the latest recorded first."""
    for code in (from_code, to_code):
        await scope_rule.ensure_sees_code(session, scope, code)
    query = _filtered(from_code, to_code, dispatch_id, scope)
    if cursor:
        at, rid = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            tuple_(transfer_discrepancies.c.recorded_at, transfer_discrepancies.c.id) < (at, rid)
        )
    query = query.order_by(
        transfer_discrepancies.c.recorded_at.desc(), transfer_discrepancies.c.id.desc()
    )
    rows, next_cursor = await read_page(
        session, query, limit, lambda r: (r.recorded_at.isoformat(), str(r.id))
    )
    return {"items": [_discrepancy(r) for r in rows], "next_cursor": next_cursor}


DISCREPANCY_HEADERS = [
    "记录时间 recorded_at",
    "调拨单 dispatch_no",
    "调出仓库 from",
    "调入仓库 to",
    "物资编码 item_code",
    "物资名称 item_name",
    "单位 unit",
    "批次 lot_no",
    "类型 kind",
    "数量 quantity",
    "金额(分) value_fen",
    "原因 reason",
    "记录人 recorded_by",
]


async def discrepancy_rows(
    session: AsyncSession,
    *,
    from_code: str | None,
    to_code: str | None,
    dispatch_id: uuid.UUID | None,
    scope: str | None,
) -> list[list[Any]]:
    """Every discrepancy the filters select, as export rows (oldest first)."""
    for code in (from_code, to_code):
        await scope_rule.ensure_sees_code(session, scope, code)
    query = _filtered(from_code, to_code, dispatch_id, scope).order_by(
        transfer_discrepancies.c.recorded_at, transfer_discrepancies.c.id
    )
    return [
        [
            r.recorded_at,
            r.dispatch_no,
            r.from_warehouse_code,
            r.to_warehouse_code,
            r.item_code,
            r.item_name,
            r.unit,
            r.lot_no,
            r.kind,
            r.quantity,
            r.value_fen,
            r.reason,
            r.recorded_by,
        ]
        for r in await session.execute(query)
    ]


async def in_transit(
    session: AsyncSession, *, to_code: str | None, scope: str | None, today: date
) -> dict[str, Any]:
    """Shipped transfers not yet received, per destination warehouse, with their age in days
    (Asia/Shanghai days since shipping)."""
    await scope_rule.ensure_sees_code(session, scope, to_code)
    query = scope_rule.dispatches_within(
        select(
            dispatches.c.id,
            dispatches.c.dispatch_no,
            dispatches.c.shipped_at,
            dispatches.c.waybill_no,
            dispatches.c.carrier,
            _from.c.code.label("from_warehouse_code"),
            _to.c.code.label("to_warehouse_code"),
            _to.c.name.label("to_warehouse_name"),
            _to.c.town.label("to_town"),
        )
        .join(_from, _from.c.id == dispatches.c.from_warehouse_id)
        .join(_to, _to.c.id == dispatches.c.destination_warehouse_id)
        .where(dispatches.c.kind == "transfer", dispatches.c.status == SHIPPED),
        scope,
    )
    if to_code:
        query = query.where(_to.c.code == to_code)
    shipments = (await session.execute(query.order_by(dispatches.c.shipped_at))).all()
    lines: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    if shipments:
        for r in await session.execute(
            select(
                dispatch_allocations.c.dispatch_id,
                items.c.code,
                items.c.name,
                items.c.unit,
                func.sum(dispatch_allocations.c.quantity).label("quantity"),
            )
            .join(items, items.c.id == dispatch_allocations.c.item_id)
            .where(dispatch_allocations.c.dispatch_id.in_([s.id for s in shipments]))
            .group_by(dispatch_allocations.c.dispatch_id, items.c.code, items.c.name, items.c.unit)
            .order_by(items.c.code)
        ):
            lines[r.dispatch_id].append(
                {
                    "item_code": r.code,
                    "item_name": r.name,
                    "unit": r.unit,
                    "quantity": int(r.quantity),
                }
            )
    destinations: dict[str, dict[str, Any]] = {}
    for s in shipments:
        age = (today - s.shipped_at.astimezone(SHANGHAI).date()).days
        place = destinations.setdefault(
            s.to_warehouse_code,
            {
                "warehouse_code": s.to_warehouse_code,
                "warehouse_name": s.to_warehouse_name,
                "town": s.to_town,
                "units": 0,
                "oldest_age_days": 0,
                "dispatches": [],
            },
        )
        units = sum(x["quantity"] for x in lines[s.id])
        place["units"] += units
        place["oldest_age_days"] = max(place["oldest_age_days"], age)
        place["dispatches"].append(
            {
                "id": str(s.id),
                "dispatch_no": s.dispatch_no,
                "from_warehouse_code": s.from_warehouse_code,
                "shipped_at": s.shipped_at.isoformat(),
                "age_days": age,
                "waybill_no": s.waybill_no,
                "carrier": s.carrier,
                "units": units,
                "lines": lines[s.id],
            }
        )
    return {"destinations": sorted(destinations.values(), key=lambda d: d["warehouse_code"])}
