"""Reads of inbounds: one, the list, and the donation gifts still expected (the old list)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.organisations import DISTRICT
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import inbounds, warehouses
from warehouse.entrypoints.api.schemas import ExpectedInboundOut, InboundOut, InboundPage
from warehouse.service_layer import scope as scope_rule


def _query(scope: str | None = None) -> Any:
    """Inbounds with their warehouse's code; for a reader limited to ``scope``, those of
    that organisation's warehouses and the goods gifts no warehouse has received yet (any
    branch may be the one that receives them)."""
    query = select(
        inbounds, warehouses.c.code.label("warehouse_code"), warehouses.c.org_code
    ).outerjoin(warehouses, warehouses.c.id == inbounds.c.warehouse_id)
    if scope is None or scope == DISTRICT:
        return query
    return query.where(or_(warehouses.c.org_code == scope, inbounds.c.warehouse_id.is_(None)))


def _out(row: Any) -> InboundOut:
    return InboundOut.model_validate(row, from_attributes=True)


async def get_inbound(
    session: AsyncSession, inbound_id: uuid.UUID, *, scope: str | None
) -> InboundOut:
    """One inbound; 404 if there is none, 403 if it is at a warehouse a reader limited to
    ``scope`` may not see."""
    row = (await session.execute(_query().where(inbounds.c.id == inbound_id))).first()
    if row is None:
        raise NotFound(f"入库单不存在 (inbound {inbound_id} not found)")
    if row.warehouse_id is not None:
        await scope_rule.ensure_sees(session, scope, row.warehouse_code, row.org_code)
    return _out(row)


async def list_inbounds(
    session: AsyncSession,
    *,
    status: str | None,
    source_kind: str | None,
    warehouse_code: str | None,
    donation_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> InboundPage:
    """Inbounds, the latest announced first, filtered (to what ``scope`` may see)."""
    await scope_rule.ensure_sees_code(session, scope, warehouse_code)
    query = _query(scope)
    if status:
        query = query.where(inbounds.c.status == status)
    if source_kind:
        query = query.where(inbounds.c.source_kind == source_kind)
    if warehouse_code:
        query = query.where(warehouses.c.code == warehouse_code)
    if donation_id:
        query = query.where(inbounds.c.donation_id == donation_id)
    if cursor:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(
                inbounds.c.announced_at < at,
                and_(inbounds.c.announced_at == at, inbounds.c.id < last),
            )
        )
    query = query.order_by(inbounds.c.announced_at.desc(), inbounds.c.id.desc())
    page, next_cursor = await read_page(
        session, query, limit, lambda r: [r.announced_at.isoformat(), str(r.id)]
    )
    return InboundPage(items=[_out(r) for r in page], next_cursor=next_cursor)


async def list_expected(
    session: AsyncSession, limit: int, *, scope: str | None
) -> list[ExpectedInboundOut]:
    """The donation gifts still expected, the latest announced first (those ``scope`` sees)."""
    query = (
        _query(scope)
        .where(inbounds.c.status == "expected", inbounds.c.source_kind == "donation")
        .order_by(inbounds.c.announced_at.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [ExpectedInboundOut.model_validate(r, from_attributes=True) for r in rows]
