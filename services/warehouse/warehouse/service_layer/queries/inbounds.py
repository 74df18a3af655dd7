"""Reads of inbounds: one, the list, and the donation gifts still expected (the old list)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import inbounds, warehouses
from warehouse.entrypoints.api.schemas import ExpectedInboundOut, InboundOut, InboundPage


def _query() -> Any:
    return select(inbounds, warehouses.c.code.label("warehouse_code")).outerjoin(
        warehouses, warehouses.c.id == inbounds.c.warehouse_id
    )


def _out(row: Any) -> InboundOut:
    return InboundOut.model_validate(row, from_attributes=True)


async def get_inbound(session: AsyncSession, inbound_id: uuid.UUID) -> InboundOut:
    """One inbound; 404 if there is none."""
    row = (await session.execute(_query().where(inbounds.c.id == inbound_id))).first()
    if row is None:
        raise NotFound(f"入库单不存在 (inbound {inbound_id} not found)")
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
) -> InboundPage:
    """Inbounds, the latest announced first, filtered."""
    query = _query()
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


async def list_expected(session: AsyncSession, limit: int) -> list[ExpectedInboundOut]:
    """The donation gifts still expected, the latest announced first."""
    query = (
        select(inbounds)
        .where(inbounds.c.status == "expected", inbounds.c.source_kind == "donation")
        .order_by(inbounds.c.announced_at.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [ExpectedInboundOut.model_validate(r, from_attributes=True) for r in rows]
