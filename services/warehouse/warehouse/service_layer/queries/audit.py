"""Reads of the audit log: every staff action, the latest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import audit_log
from warehouse.entrypoints.api.schemas import AuditOut, AuditPage


async def list_audit(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    actor: str | None,
    action: str | None,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    query = select(audit_log)
    if entity_type:
        query = query.where(audit_log.c.entity_type == entity_type)
    if entity_id:
        query = query.where(audit_log.c.entity_id == entity_id)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action == action)
    if cursor:
        (before,) = decode_cursor(cursor, 1, int)
        query = query.where(audit_log.c.seq < before)
    query = query.order_by(audit_log.c.seq.desc())
    page, next_cursor = await read_page(session, query, limit, lambda r: [r.seq])
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )
