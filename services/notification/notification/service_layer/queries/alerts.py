"""Reads of stock alerts: a filtered page newest first, and one alert (staff)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.alert_tables import alerts
from notification.domain.alerts import LABELS, AlertKind
from notification.entrypoints.api.schemas import AlertOut, AlertPage, AlertStatusFilter
from shared.errors import NotFound
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class AlertFilters:
    """The list's filters; ``None`` filters nothing (``unresolved`` = open or acknowledged)."""

    status: AlertStatusFilter | None = None
    kind: AlertKind | None = None
    warehouse_code: str | None = None
    item_code: str | None = None
    escalated: bool | None = None


def alert_out(row: Any) -> AlertOut:
    values = dict(row._mapping)
    return AlertOut.model_validate(values | {"label": LABELS.get(values["kind"], values["kind"])})


def alerts_query(filters: AlertFilters, *, limit: int, cursor: str | None) -> Select[Any]:
    """Alerts newest first (by raise time, then id), after ``cursor``, one more than
    ``limit`` (to tell whether a next page exists); a malformed cursor is a ``422``."""
    query = select(alerts)
    if filters.status == "unresolved":
        query = query.where(alerts.c.resolved_at.is_(None))
    elif filters.status is not None:
        query = query.where(alerts.c.status == filters.status)
    if filters.kind is not None:
        query = query.where(alerts.c.kind == filters.kind)
    if filters.warehouse_code is not None:
        query = query.where(alerts.c.warehouse_code == filters.warehouse_code)
    if filters.item_code is not None:
        query = query.where(alerts.c.item_code == filters.item_code)
    if filters.escalated is not None:
        query = query.where(
            alerts.c.escalated_at.is_not(None)
            if filters.escalated
            else alerts.c.escalated_at.is_(None)
        )
    if cursor is not None:
        at, last_id = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            or_(alerts.c.raised_at < at, and_(alerts.c.raised_at == at, alerts.c.id < last_id))
        )
    return query.order_by(alerts.c.raised_at.desc(), alerts.c.id.desc()).limit(limit + 1)


async def alert_page(
    runtime: ServiceRuntime, filters: AlertFilters, *, limit: int, cursor: str | None
) -> AlertPage:
    """One page of alerts, with the cursor of the next page if there is one."""
    query = alerts_query(filters, limit=limit, cursor=cursor)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.raised_at.isoformat(), str(last.id))
    return AlertPage(items=[alert_out(r) for r in page], next_cursor=next_cursor)


async def _read_alert(session: AsyncSession, alert_id: uuid.UUID) -> AlertOut:
    row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).first()
    if row is None:
        raise NotFound(f"预警不存在 (alert {alert_id} not found)")
    return alert_out(row)


async def alert(runtime: ServiceRuntime, alert_id: uuid.UUID) -> AlertOut:
    """One alert; ``404`` if there is none of that id."""
    async with runtime.session_factory() as session:
        return await _read_alert(session, alert_id)


async def alert_body(uow: SqlUnitOfWork, alert_id: uuid.UUID) -> dict[str, Any]:
    """One alert as the API answers it, read in ``uow`` (after a change to it)."""
    return (await _read_alert(uow.session, alert_id)).model_dump(mode="json")
