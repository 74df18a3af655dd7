"""Reads of the catalogue: warehouses and items, one by code or a page in code order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import items, warehouses
from warehouse.entrypoints.api.schemas import ItemOut, ItemPage, WarehouseOut, WarehousePage
from warehouse.service_layer import scope as scope_rule

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Entries(Generic[M]):
    """Warehouses and items alike: rows known by a unique ``code``, shown as ``model``."""

    table: Table
    model: type[M]
    not_found: str  # the 404 message, with {code}

    def out(self, row: Any) -> M:
        return self.model.model_validate(row, from_attributes=True)

    def with_code(self, code: str) -> Select[Any]:
        return select(self.table).where(self.table.c.code == code)


WAREHOUSES = _Entries(warehouses, WarehouseOut, "仓库不存在：{code} (warehouse not found)")
ITEMS = _Entries(items, ItemOut, "物资不存在：{code} (item not found)")


async def _created(session: AsyncSession, entries: _Entries[M], code: str) -> dict[str, Any]:
    """The entry just written, JSON-ready (the answer to a create)."""
    row = (await session.execute(entries.with_code(code))).one()
    return entries.out(row).model_dump(mode="json")


async def _get(session: AsyncSession, entries: _Entries[M], code: str) -> M:
    row = (await session.execute(entries.with_code(code))).first()
    if row is None:
        raise NotFound(entries.not_found.format(code=code))
    return entries.out(row)


async def _page(
    session: AsyncSession, entries: _Entries[M], query: Any, limit: int, cursor: str | None
) -> tuple[list[M], str | None]:
    """One page of ``query`` in code order, after the code in ``cursor``; the next cursor."""
    table = entries.table
    query = query.order_by(table.c.code)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(table.c.code > str(after))
    page, next_cursor = await read_page(session, query, limit, lambda r: [r.code])
    return [entries.out(r) for r in page], next_cursor


async def created_warehouse(session: AsyncSession, code: str) -> dict[str, Any]:
    return await _created(session, WAREHOUSES, code)


async def get_warehouse(session: AsyncSession, code: str, *, scope: str | None) -> WarehouseOut:
    """One warehouse; 404 if there is none, 403 if a reader limited to ``scope`` (an
    organisation, ``service_layer.scope.read_scope``) may not see it."""
    out = await _get(session, WAREHOUSES, code)
    await scope_rule.ensure_sees(session, scope, out.code, out.org_code)
    return out


async def list_warehouses(
    session: AsyncSession,
    *,
    town: str | None,
    kind: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
    scope: str | None,
) -> WarehousePage:
    """Warehouses in code order (those of the reader's organisation, ``scope``)."""
    query = scope_rule.within(select(warehouses), scope, warehouses.c.org_code)
    if town:
        query = query.where(warehouses.c.town == town)
    if kind:
        query = query.where(warehouses.c.kind == kind)
    if active is not None:
        query = query.where(warehouses.c.active == active)
    page, next_cursor = await _page(session, WAREHOUSES, query, limit, cursor)
    return WarehousePage(items=page, next_cursor=next_cursor)


async def created_item(session: AsyncSession, code: str) -> dict[str, Any]:
    return await _created(session, ITEMS, code)


async def get_item(session: AsyncSession, code: str) -> ItemOut:
    """One item; 404 if there is none."""
    return await _get(session, ITEMS, code)


async def list_items(
    session: AsyncSession,
    *,
    category: str | None,
    q: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> ItemPage:
    """Items whose name or code contains ``q`` (a literal, not a pattern)."""
    query = select(items)
    if category:
        query = query.where(items.c.category == category)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(items.c.name.ilike(pattern) | items.c.code.ilike(pattern))
    if active is not None:
        query = query.where(items.c.active == active)
    page, next_cursor = await _page(session, ITEMS, query, limit, cursor)
    return ItemPage(items=page, next_cursor=next_cursor)
