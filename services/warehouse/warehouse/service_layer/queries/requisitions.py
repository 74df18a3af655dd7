"""Reading requisitions (请领): one, and the list (a town branch sees its own stations')."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import dispatches, preparedness_plans, requisitions, warehouses
from warehouse.service_layer import scope as scope_rule

_station = warehouses.alias("station")
_source = warehouses.alias("source")


def _query() -> Any:
    return (
        select(
            requisitions,
            _station.c.code.label("warehouse_code"),
            _station.c.town.label("town"),
            _station.c.org_code.label("org_code"),
            _source.c.code.label("source_code"),
            preparedness_plans.c.code.label("plan_code"),
            dispatches.c.dispatch_no.label("dispatch_no"),
        )
        .join(_station, _station.c.id == requisitions.c.warehouse_id)
        .outerjoin(_source, _source.c.id == requisitions.c.source_warehouse_id)
        .outerjoin(preparedness_plans, preparedness_plans.c.id == requisitions.c.plan_id)
        .outerjoin(dispatches, dispatches.c.id == requisitions.c.dispatch_id)
    )


def _body(r: Any) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "requisition_no": r.requisition_no,
        "warehouse_code": r.warehouse_code,
        "town": r.town,
        "source_warehouse_code": r.source_code,
        "status": r.status,
        "lines": [{k: v for k, v in line.items() if k != "item_id"} for line in r.lines],
        "reason": r.reason,
        "urgency": r.urgency,
        "plan_code": r.plan_code,
        "requested_by": r.requested_by,
        "requested_at": r.requested_at.isoformat(),
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        "decided_reason": r.decided_reason,
        "dispatch_id": str(r.dispatch_id) if r.dispatch_id else None,
        "dispatch_no": r.dispatch_no,
        "version": r.version,
    }


async def requisition_body(
    session: AsyncSession, requisition_id: uuid.UUID, *, scope: str | None
) -> dict[str, Any]:
    row = (await session.execute(_query().where(requisitions.c.id == requisition_id))).first()
    if row is None:
        raise NotFound(f"请领单不存在 (requisition {requisition_id} not found)")
    await scope_rule.ensure_sees(session, scope, row.warehouse_code, row.org_code)
    return _body(row)


async def list_requisitions(
    session: AsyncSession,
    *,
    status: str | None,
    warehouse_code: str | None,
    scope: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Requisitions, the latest first."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = scope_rule.within(_query(), scope, _station.c.org_code)
    if status:
        query = query.where(requisitions.c.status == status)
    if warehouse_code:
        query = query.where(_station.c.code == warehouse_code)
    if cursor:
        at, rid = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(tuple_(requisitions.c.requested_at, requisitions.c.id) < (at, rid))
    query = query.order_by(requisitions.c.requested_at.desc(), requisitions.c.id.desc())
    rows, next_cursor = await read_page(
        session, query, limit, lambda r: (r.requested_at.isoformat(), str(r.id))
    )
    return {"items": [_body(r) for r in rows], "next_cursor": next_cursor}
