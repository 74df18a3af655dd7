"""The dispatch rows in PostgreSQL: :class:`warehouse.service_layer.dispatch_rows.DispatchRows`
as SQL, and the reads of a dispatch and its allocations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from warehouse.adapters.orm import audit_log, dispatch_allocations, dispatches, items, lots
from warehouse.adapters.orm import warehouses as warehouses_table


async def find_dispatch(session: AsyncSession, dispatch_id: uuid.UUID) -> Row[Any] | None:
    """The dispatch row, or None."""
    return (await session.execute(select(dispatches).where(dispatches.c.id == dispatch_id))).first()


async def allocations_of(session: AsyncSession, dispatch_id: uuid.UUID) -> list[Row[Any]]:
    """The lots picked for a dispatch, with their lot's and item's columns, in item code, then
    expiry (none last), then lot number order."""
    query = (
        select(
            dispatch_allocations,
            lots.c.lot_no,
            lots.c.expiry_date,
            lots.c.source_kind,
            lots.c.donation_id,
            lots.c.tracking_code,
            lots.c.designated_project,
            lots.c.disbursement_id,
            lots.c.warehouse_id,
            items.c.code.label("item_code"),
            items.c.name.label("item_name"),
            items.c.unit,
        )
        .join(lots, lots.c.id == dispatch_allocations.c.lot_id)
        .join(items, items.c.id == dispatch_allocations.c.item_id)
        .where(dispatch_allocations.c.dispatch_id == dispatch_id)
        .order_by(items.c.code, lots.c.expiry_date.nulls_last(), lots.c.lot_no)
    )
    return list((await session.execute(query)).all())


class SqlDispatchRows:
    """The ``dispatches`` table (and the audit log of its steps) through one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_number(self) -> int:
        number: int = (
            await self.session.execute(text("SELECT nextval('dispatch_no_seq')"))
        ).scalar_one()
        return number

    async def add(self, values: dict[str, Any]) -> Row[Any]:
        row: Row[Any] = (
            await self.session.execute(pg_insert(dispatches).values(**values).returning(dispatches))
        ).one()
        return row

    async def lock(self, dispatch_id: uuid.UUID) -> Row[Any] | None:
        source, target = warehouses_table.alias("source"), warehouses_table.alias("target")
        return (
            await self.session.execute(
                select(
                    dispatches,
                    source.c.code.label("source_code"),
                    source.c.name.label("source_name"),
                    source.c.org_code.label("source_org"),
                    target.c.code.label("target_code"),
                    target.c.org_code.label("target_org"),
                )
                .join(source, source.c.id == dispatches.c.from_warehouse_id)
                .outerjoin(target, target.c.id == dispatches.c.destination_warehouse_id)
                .where(dispatches.c.id == dispatch_id)
                .with_for_update(of=dispatches)
            )
        ).first()

    async def save(self, dispatch_id: uuid.UUID, values: dict[str, Any]) -> Row[Any]:
        saved: Row[Any] = (
            await self.session.execute(
                update(dispatches)
                .where(dispatches.c.id == dispatch_id)
                .values(version=dispatches.c.version + 1, **values)
                .returning(dispatches)
            )
        ).one()
        return saved

    async def allocations(self, dispatch_id: uuid.UUID) -> list[Row[Any]]:
        return await allocations_of(self.session, dispatch_id)

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        entity_id: str,
        at: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.session.execute(
            insert(audit_log).values(
                at=at,
                actor=actor,
                action=action,
                entity_type="dispatch",
                entity_id=entity_id,
                detail=detail or {},
            )
        )
