"""Warehouses, items and safety stock: created and updated with optimistic concurrency."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.errors import Conflict, ValidationFailed
from shared.ids import uuid7
from shared.organisations import DISTRICT
from warehouse.adapters.orm import items, organisations, stock_levels, warehouses
from warehouse.domain.commands import (
    CreateItem,
    CreateWarehouse,
    SetSafetyStock,
    UpdateItem,
    UpdateWarehouse,
)
from warehouse.domain.model import CATEGORIES, TOWNS, local_today
from warehouse.service_layer import clock, scope
from warehouse.service_layer.stock import (
    audit,
    expired_units_of,
    item_by_code,
    publish_level,
    warehouse_by_code,
)
from warehouse.service_layer.tx import Tx


def _check_town(town: str | None) -> None:
    if town is not None and town not in TOWNS:
        raise ValidationFailed(f"未知的镇（街道）：{town} (unknown town; one of Fenghua's 12)")


async def _org_of(tx: Tx, org_code: str | None, kind: str, town: str | None) -> str:
    """The organisation a warehouse belongs to: the one named (it must be in the register),
    else the district branch for the district warehouse, the branch of its town for a
    station."""
    if org_code is None:
        if kind == "district" or town is None:
            return DISTRICT
        found = await tx.session.scalar(
            select(organisations.c.code).where(
                organisations.c.kind == "town", organisations.c.town == town
            )
        )
        return str(found) if found is not None else DISTRICT
    exists = (
        await tx.session.execute(
            select(organisations.c.code).where(organisations.c.code == org_code)
        )
    ).first()
    if exists is None:
        raise ValidationFailed(
            f"未知的组织：{org_code}，请使用已登记的组织编码 (unknown organisation {org_code})"
        )
    return org_code


def _nothing_to_change(changes: Mapping[str, Any]) -> None:
    if not changes:
        raise ValidationFailed("没有要修改的字段 (nothing to change)")


async def create_warehouse(tx: Tx, command: CreateWarehouse) -> uuid.UUID:
    actor = command.actor
    values: dict[str, Any] = {
        "code": command.code,
        "name": command.name,
        "kind": command.kind,
        "town": command.town,
        "address": command.address,
        "active": command.active,
    }
    _check_town(values.get("town"))
    if values.get("kind") == "station" and not values.get("town"):
        raise ValidationFailed("镇级救灾站必须填写所在镇街 town (a station needs its town)")
    values["org_code"] = await _org_of(tx, command.org_code, command.kind, command.town)
    await scope.ensure_reaches_org(tx.session, command.actor_org, values["org_code"])
    exists = await tx.session.execute(
        select(warehouses.c.id).where(warehouses.c.code == values["code"])
    )
    if exists.first() is not None:
        raise Conflict(f"仓库编码已存在：{values['code']} (warehouse code already exists)")
    now = clock.now()
    warehouse_id = uuid7()
    await tx.session.execute(
        insert(warehouses).values(
            id=warehouse_id, version=1, created_at=now, updated_at=now, **values
        )
    )
    await audit(
        tx.session,
        actor=actor,
        action="warehouse.create",
        entity_type="warehouse",
        entity_id=values["code"],
        at=now,
        detail=dict(values),
    )
    return warehouse_id


async def update_warehouse(tx: Tx, command: UpdateWarehouse) -> None:
    """Change the fields sent (at least one), if the warehouse is still at ``version``."""
    code, version, actor = command.code, command.version, command.actor
    changes = dict(command.changes)
    _nothing_to_change(changes)
    _check_town(changes.get("town"))
    current = await warehouse_by_code(tx.session, code)  # 404 if missing
    await scope.ensure_reaches(tx.session, command.actor_org, current)
    if "org_code" in changes:
        changes["org_code"] = await _org_of(tx, changes["org_code"], current.kind, current.town)
        await scope.ensure_reaches_org(tx.session, command.actor_org, changes["org_code"])
    now = clock.now()
    result = await tx.session.execute(
        update(warehouses)
        .where(warehouses.c.code == code, warehouses.c.version == version)
        .values(version=warehouses.c.version + 1, updated_at=now, **changes)
        .returning(warehouses.c.id)
    )
    if result.first() is None:
        current = await warehouse_by_code(tx.session, code)
        raise Conflict(
            "仓库信息已被他人修改，请刷新后重试 (version mismatch)",
            details={"current_version": current.version},
        )
    await audit(
        tx.session,
        actor=actor,
        action="warehouse.update",
        entity_type="warehouse",
        entity_id=code,
        at=now,
        detail=changes,
    )


async def create_item(tx: Tx, command: CreateItem) -> uuid.UUID:
    actor = command.actor
    values: dict[str, Any] = {
        "code": command.code,
        "name": command.name,
        "category": command.category,
        "unit": command.unit,
        "lot_tracked": command.lot_tracked,
        "unit_value_fen": command.unit_value_fen,
        "default_safety_stock": command.default_safety_stock,
        "active": command.active,
    }
    if values["category"] not in CATEGORIES:
        raise ValidationFailed(f"未知的物资类别：{values['category']} (unknown category)")
    exists = await tx.session.execute(select(items.c.id).where(items.c.code == values["code"]))
    if exists.first() is not None:
        raise Conflict(f"物资编码已存在：{values['code']} (item code already exists)")
    now = clock.now()
    item_id = uuid7()
    await tx.session.execute(
        insert(items).values(id=item_id, version=1, created_at=now, updated_at=now, **values)
    )
    await audit(
        tx.session,
        actor=actor,
        action="item.create",
        entity_type="item",
        entity_id=values["code"],
        at=now,
        detail=dict(values),
    )
    return item_id


async def update_item(tx: Tx, command: UpdateItem) -> None:
    """Change the fields sent (at least one), if the item is still at ``version``."""
    code, version, actor = command.code, command.version, command.actor
    changes = dict(command.changes)
    _nothing_to_change(changes)
    now = clock.now()
    result = await tx.session.execute(
        update(items)
        .where(items.c.code == code, items.c.version == version)
        .values(version=items.c.version + 1, updated_at=now, **changes)
        .returning(items.c.id)
    )
    if result.first() is None:
        current = await item_by_code(tx.session, code)
        raise Conflict(
            "物资信息已被他人修改，请刷新后重试 (version mismatch)",
            details={"current_version": current.version},
        )
    await audit(
        tx.session,
        actor=actor,
        action="item.update",
        entity_type="item",
        entity_id=code,
        at=now,
        detail=changes,
    )


async def set_safety_stock(tx: Tx, command: SetSafetyStock) -> None:
    """Set the safety stock of an item in one warehouse; publishes the level (alerts)."""
    warehouse_code, item_code = command.warehouse_code, command.item_code
    quantity, actor = command.safety_stock, command.actor
    if quantity < 0:
        raise ValidationFailed("安全库存不能为负 (safety stock must be >= 0)")
    now = clock.now()
    place = await warehouse_by_code(tx.session, warehouse_code)
    await scope.ensure_reaches(tx.session, command.actor_org, place)
    item = await item_by_code(tx.session, item_code)
    expired = expired_units_of(place.id, item.id, local_today())
    level = (
        await tx.session.execute(
            pg_insert(stock_levels)
            .values(
                warehouse_id=place.id,
                item_id=item.id,
                on_hand=0,
                reserved=0,
                safety_stock=quantity,
                expired=0,  # no level yet: no lots either (CHECK holds on the proposed row)
                version=1,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["warehouse_id", "item_id"],
                set_={
                    "safety_stock": quantity,
                    "expired": expired,
                    "version": stock_levels.c.version + 1,
                    "updated_at": now,
                },
            )
            .returning(stock_levels)
        )
    ).one()
    await publish_level(tx, level, place, item, "safety_stock", None, now)
    await audit(
        tx.session,
        actor=actor,
        action="stock.safety_stock",
        entity_type="stock_level",
        entity_id=f"{warehouse_code}/{item_code}",
        at=now,
        detail={"safety_stock": quantity},
    )
