"""Reads of the audit log: every staff action, the latest first (auditors only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from donation.adapters.orm import AuditEntry
from donation.entrypoints.api.schemas import AuditOut, AuditPage
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime


@dataclass(frozen=True)
class AuditFilters:
    """Exact matches; ``None`` or empty filters nothing."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None


def audit_query(
    filters: AuditFilters, *, limit: int, cursor: str | None
) -> SelectOfScalar[AuditEntry]:
    """Entries the latest first, after ``cursor``, one more than ``limit``; a malformed cursor
    is a ``422``."""
    query = select(AuditEntry)
    if filters.entity:
        query = query.where(col(AuditEntry.entity) == filters.entity)
    if filters.entity_id:
        query = query.where(col(AuditEntry.entity_id) == filters.entity_id)
    if filters.actor:
        query = query.where(col(AuditEntry.actor) == filters.actor)
    if filters.action:
        query = query.where(col(AuditEntry.action) == filters.action)
    if cursor is not None:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, int):
            raise ValidationFailed("无效的分页游标 (invalid cursor)")
        query = query.where(col(AuditEntry.id) < last)
    return query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)


async def audit_page(
    runtime: ServiceRuntime, filters: AuditFilters, *, limit: int, cursor: str | None
) -> AuditPage:
    """One page of the audit log, with the cursor of the next page if there is one."""
    query = audit_query(filters, limit=limit, cursor=cursor)
    async with runtime.unit_of_work() as uow:
        rows = list(await uow.session.scalars(query))
        page = rows[:limit]
        return AuditPage(
            items=[AuditOut.model_validate(a, from_attributes=True) for a in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )
