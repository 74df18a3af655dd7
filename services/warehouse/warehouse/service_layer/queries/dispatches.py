"""Reads of dispatches: the list, one dispatch, and the answer a step gives (the dispatch as
it now is)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.dispatch_rows import allocations_of, find_dispatch
from warehouse.adapters.orm import dispatch_allocations, dispatches, lots, warehouses
from warehouse.entrypoints.api.schemas import AllocationOut, DispatchOut, DispatchPage
from warehouse.service_layer import scope as scope_rule
from warehouse.service_layer.dispatch_steps import Outcome
from warehouse.service_layer.queries.transit import discrepancies_of

# Lots are allocated by picking: a dispatch still requested or approved has none.
_UNPICKED = frozenset({"requested", "approved"})


async def _warehouse_codes(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(warehouses.c.id, warehouses.c.code).where(warehouses.c.id.in_(ids))
    )
    return {r.id: r.code for r in rows}


async def dispatch_out(
    session: AsyncSession,
    row: Any,
    *,
    allocs: Sequence[Any] | None = None,
    codes: dict[uuid.UUID, str] | None = None,
) -> DispatchOut:
    """The API view of a dispatch; ``allocs`` and ``codes`` when the caller has them already."""
    if codes is None:
        codes = await _warehouse_codes(
            session,
            {
                row.from_warehouse_id,
                *([row.destination_warehouse_id] if row.destination_warehouse_id else []),
            },
        )
    if allocs is None:
        allocs = [] if row.status in _UNPICKED else await allocations_of(session, row.id)
    return DispatchOut(
        id=row.id,
        dispatch_no=row.dispatch_no,
        kind=row.kind,
        status=row.status,
        from_warehouse_code=codes[row.from_warehouse_id],
        destination={
            "kind": row.destination_kind,
            "name": row.destination_name,
            "town": row.destination_town,
            "address": row.destination_address,
            "warehouse_code": codes.get(row.destination_warehouse_id)
            if row.destination_warehouse_id
            else None,
        },
        incident_code=row.incident_code,
        incident_name=row.incident_name,
        urgency=row.urgency,
        lines=[{k: v for k, v in line.items() if k != "item_id"} for line in row.lines],
        allocations=[
            AllocationOut(
                lot_id=a.lot_id,
                lot_no=a.lot_no,
                item_code=a.item_code,
                quantity=a.quantity,
                expiry_date=a.expiry_date,
                source_kind=a.source_kind,
                donation_id=a.donation_id,
                tracking_code=a.tracking_code,
                delivered_quantity=a.delivered_quantity,
                returned_quantity=a.returned_quantity,
                designated_project=a.designated_project,
                disbursement_id=a.disbursement_id,
            )
            for a in allocs
        ],
        note=row.note,
        project_code=row.project_code,
        designated_override_reason=row.designated_override_reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        decided_reason=row.decided_reason,
        picked_by=row.picked_by,
        picked_at=row.picked_at,
        waybill_no=row.waybill_no,
        carrier=row.carrier,
        shipped_by=row.shipped_by,
        shipped_at=row.shipped_at,
        recipient_name=row.recipient_name,
        recipient_phone=row.recipient_phone,
        recipient_org=row.recipient_org,
        delivery_note=row.delivery_note,
        delivered_by=row.delivered_by,
        delivered_at=row.delivered_at,
        recipient_ids=list(getattr(row, "recipient_ids", None) or []),
        people_reached=getattr(row, "people_reached", 0) or 0,
        households_reached=getattr(row, "households_reached", 0) or 0,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        version=row.version,
    )


async def get_dispatch(
    session: AsyncSession, dispatch_id: uuid.UUID, *, scope: str | None
) -> DispatchOut:
    """One dispatch; 404 if there is none, 403 if a reader limited to ``scope`` may not see
    it (neither from nor, a transfer, into a warehouse of that organisation)."""
    row = await find_dispatch(session, dispatch_id)
    if row is None:
        raise NotFound(f"调拨单不存在 (dispatch {dispatch_id} not found)")
    await scope_rule.ensure_sees_dispatch(session, scope, row)
    return await _with_discrepancies(session, await dispatch_out(session, row))


async def _with_discrepancies(session: AsyncSession, out: DispatchOut) -> DispatchOut:
    """A delivered transfer's detail shows what its receiving station found short or damaged."""
    if out.kind != "transfer" or out.status != "delivered":
        return out
    return out.model_copy(update={"discrepancies": await discrepancies_of(session, out.id)})


async def step_body(session: AsyncSession, dispatch_id: uuid.UUID, done: Outcome | None) -> Any:
    """The answer to a step, JSON-ready: the dispatch after it (from what the step left behind,
    or read again)."""
    if done is None:
        out = await get_dispatch(session, dispatch_id, scope=None)  # the step reached it
    else:
        out = await dispatch_out(session, done.row, allocs=done.allocations, codes=done.codes)
        out = await _with_discrepancies(session, out)
    return out.model_dump(mode="json")


async def list_dispatches(
    session: AsyncSession,
    *,
    status: str | None,
    kind: str | None,
    from_warehouse_code: str | None,
    town: str | None,
    incident_code: str | None,
    donation_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> DispatchPage:
    """Dispatches, the latest requested first, filtered (to those ``scope`` sees)."""
    query = scope_rule.dispatches_within(select(dispatches), scope)
    if status:
        query = query.where(dispatches.c.status == status)
    if kind:
        query = query.where(dispatches.c.kind == kind)
    if from_warehouse_code:
        query = query.where(
            dispatches.c.from_warehouse_id
            == select(warehouses.c.id)
            .where(warehouses.c.code == from_warehouse_code)
            .scalar_subquery()
        )
    if town:
        query = query.where(dispatches.c.destination_town == town)
    if incident_code:
        query = query.where(dispatches.c.incident_code == incident_code)
    if donation_id:
        query = query.where(
            exists()
            .where(dispatch_allocations.c.dispatch_id == dispatches.c.id)
            .where(lots.c.id == dispatch_allocations.c.lot_id)
            .where(lots.c.donation_id == donation_id)
        )
    if cursor:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                dispatches.c.requested_at < at,
                and_(dispatches.c.requested_at == at, dispatches.c.id < last),
            )
        )
    query = query.order_by(dispatches.c.requested_at.desc(), dispatches.c.id.desc())
    page, next_cursor = await read_page(
        session, query, limit, lambda r: [r.requested_at.isoformat(), str(r.id)]
    )
    out = [await dispatch_out(session, r) for r in page]
    return DispatchPage(items=out, next_cursor=next_cursor)
