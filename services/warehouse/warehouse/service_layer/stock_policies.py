"""Stock policies (库存策略): how many months of stock to hold, per category and per warehouse
and item. Versioned (If-Match), audited, scoped.

* **Category defaults** (``category_policies``, seeded by migration 0006): district staff only,
  approvers (or admins) — they set the rule for every warehouse of every organisation.
* **Warehouse + item overrides** (``stock_policies``): keepers and approvers of the
  warehouse's organisation (district staff: every warehouse). Either months of stock
  (reorder and target MOS) or min/max quantities; a lead time of its own optional (else the
  category's). Creating one needs no version; changing or clearing one needs the version read
  (If-Match): none is a 428, an old one a 412.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import (
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from warehouse.adapters.orm import category_policies, stock_policies
from warehouse.domain.model import CATEGORIES
from warehouse.service_layer import clock
from warehouse.service_layer.scope import ensure_district, ensure_reaches, ensure_sees
from warehouse.service_layer.stock import audit, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx


@dataclass(frozen=True)
class SetCategoryPolicy:
    category: str
    reorder_mos: Decimal
    target_mos: Decimal
    lead_time_days: int
    actor: str
    actor_org: str
    expected_version: int | None


@dataclass(frozen=True)
class SetStockPolicy:
    warehouse_code: str
    item_code: str
    reorder_mos: Decimal | None
    target_mos: Decimal | None
    min_quantity: int | None
    max_quantity: int | None
    lead_time_days: int | None
    actor: str
    actor_org: str
    expected_version: int | None


@dataclass(frozen=True)
class ClearStockPolicy:
    warehouse_code: str
    item_code: str
    actor: str
    actor_org: str
    expected_version: int | None


def check_version(current: int, expected: int | None) -> None:
    if expected is None:
        raise PreconditionRequired(
            "修改策略需要 If-Match 版本号 (send If-Match with the version you read)",
            details={"current_version": current},
        )
    if expected != current:
        raise PreconditionFailed(
            f"策略已被他人修改：当前版本 {current}，您提交的版本 {expected}，请刷新后重试 "
            f"(version mismatch: the policy is at version {current}, you sent {expected})",
            details={"current_version": current},
        )


def check_mos(reorder: Decimal, target: Decimal) -> None:
    if reorder < 0 or target <= 0:
        raise ValidationFailed(
            "补货点月数不能为负，目标月数须大于 0 (reorder MOS must be ≥ 0, target MOS > 0)"
        )
    if target < reorder:
        raise ValidationFailed(
            f"目标月数 {target} 不能小于补货点月数 {reorder} "
            f"(target MOS {target} must not be below reorder MOS {reorder})"
        )


def check_stock_policy(command: SetStockPolicy) -> None:
    mos = (command.reorder_mos, command.target_mos)
    quantities = (command.min_quantity, command.max_quantity)
    has_mos = all(v is not None for v in mos)
    has_min_max = all(v is not None for v in quantities)
    if any(v is not None for v in mos) and not has_mos:
        raise ValidationFailed(
            "补货点月数与目标月数须同时填写 (reorder_mos and target_mos go together)"
        )
    if any(v is not None for v in quantities) and not has_min_max:
        raise ValidationFailed(
            "最低与最高库存须同时填写 (min_quantity and max_quantity go together)"
        )
    if has_mos == has_min_max:
        raise ValidationFailed(
            "请选择一种策略：按月数（补货点、目标）或按数量（最低、最高）"
            " (give either reorder_mos and target_mos, or min_quantity and max_quantity)"
        )
    if has_mos:
        assert command.reorder_mos is not None
        assert command.target_mos is not None
        check_mos(command.reorder_mos, command.target_mos)
    else:
        assert command.min_quantity is not None
        assert command.max_quantity is not None
        if command.min_quantity < 0 or command.max_quantity <= 0:
            raise ValidationFailed("最低库存不能为负，最高库存须大于 0 (min ≥ 0 and max > 0)")
        if command.min_quantity > command.max_quantity:
            raise ValidationFailed(
                f"最低库存 {command.min_quantity} 不能大于最高库存 {command.max_quantity} "
                f"(min_quantity must not exceed max_quantity)"
            )
    if command.lead_time_days is not None and command.lead_time_days < 0:
        raise ValidationFailed("补货周期天数不能为负 (lead_time_days must be ≥ 0)")


# --------------------------------------------------------------------------- category defaults


async def set_category_policy(tx: Tx, command: SetCategoryPolicy) -> None:
    ensure_district(command.actor_org, "设置物资类别的默认库存策略", "set category policies")
    if command.category not in CATEGORIES:
        raise NotFound(f"物资类别不存在：{command.category} (no category {command.category})")
    check_mos(command.reorder_mos, command.target_mos)
    if command.lead_time_days < 0:
        raise ValidationFailed("补货周期天数不能为负 (lead_time_days must be ≥ 0)")
    session, at = tx.session, clock.now()
    row = (
        await session.execute(
            select(category_policies)
            .where(category_policies.c.category == command.category)
            .with_for_update()
        )
    ).first()
    values = {
        "reorder_mos": command.reorder_mos,
        "target_mos": command.target_mos,
        "lead_time_days": command.lead_time_days,
        "updated_at": at,
        "updated_by": command.actor,
    }
    before: dict[str, Any] | None = None
    if row is None:
        if command.expected_version is not None:
            check_version(0, command.expected_version)
        await session.execute(
            insert(category_policies).values(category=command.category, version=1, **values)
        )
    else:
        check_version(row.version, command.expected_version)
        before = _mos_detail(row)
        await session.execute(
            update(category_policies)
            .where(category_policies.c.category == command.category)
            .values(version=row.version + 1, **values)
        )
    await audit(
        session,
        actor=command.actor,
        action="preparedness.category_policy_set",
        entity_type="category_policy",
        entity_id=command.category,
        at=at,
        detail={"before": before, "after": _mos_detail(command)},
    )


def _mos_detail(source: Any) -> dict[str, Any]:
    return {
        "reorder_mos": str(source.reorder_mos) if source.reorder_mos is not None else None,
        "target_mos": str(source.target_mos) if source.target_mos is not None else None,
        "lead_time_days": source.lead_time_days,
        **(
            {"min_quantity": source.min_quantity, "max_quantity": source.max_quantity}
            if hasattr(source, "min_quantity")
            else {}
        ),
    }


# --------------------------------------------------------------------------- overrides


async def _pair(session: AsyncSession, actor_org: str, warehouse_code: str, item_code: str) -> Any:
    place = await warehouse_by_code(session, warehouse_code)
    await ensure_reaches(session, actor_org, place, verb="设置库存策略")
    item = await item_by_code(session, item_code)
    return place, item


async def set_stock_policy(tx: Tx, command: SetStockPolicy) -> None:
    session, at = tx.session, clock.now()
    place, item = await _pair(session, command.actor_org, command.warehouse_code, command.item_code)
    check_stock_policy(command)
    key = (stock_policies.c.warehouse_id == place.id) & (stock_policies.c.item_id == item.id)
    row = (await session.execute(select(stock_policies).where(key).with_for_update())).first()
    values = {
        "reorder_mos": command.reorder_mos,
        "target_mos": command.target_mos,
        "min_quantity": command.min_quantity,
        "max_quantity": command.max_quantity,
        "lead_time_days": command.lead_time_days,
        "updated_at": at,
        "updated_by": command.actor,
    }
    before: dict[str, Any] | None = None
    if row is None:
        if command.expected_version is not None:
            check_version(0, command.expected_version)
        await session.execute(
            insert(stock_policies).values(
                warehouse_id=place.id, item_id=item.id, version=1, **values
            )
        )
    else:
        check_version(row.version, command.expected_version)
        before = _mos_detail(row)
        await session.execute(
            update(stock_policies).where(key).values(version=row.version + 1, **values)
        )
    await audit(
        session,
        actor=command.actor,
        action="preparedness.policy_set",
        entity_type="stock_policy",
        entity_id=f"{place.code}/{item.code}",
        at=at,
        detail={"before": before, "after": _mos_detail(command)},
    )


async def clear_stock_policy(tx: Tx, command: ClearStockPolicy) -> None:
    session, at = tx.session, clock.now()
    place, item = await _pair(session, command.actor_org, command.warehouse_code, command.item_code)
    key = (stock_policies.c.warehouse_id == place.id) & (stock_policies.c.item_id == item.id)
    row = (await session.execute(select(stock_policies).where(key).with_for_update())).first()
    if row is None:
        raise NotFound(
            f"{place.code}/{item.code} 没有单独的库存策略（按类别默认） "
            f"(no policy of its own for {place.code}/{item.code}: the category default applies)"
        )
    check_version(row.version, command.expected_version)
    await session.execute(delete(stock_policies).where(key))
    await audit(
        session,
        actor=command.actor,
        action="preparedness.policy_cleared",
        entity_type="stock_policy",
        entity_id=f"{place.code}/{item.code}",
        at=at,
        detail={"before": _mos_detail(row)},
    )


# --------------------------------------------------------------------------- reads


def category_body(row: Any) -> dict[str, Any]:
    return {
        "category": row.category,
        "category_name": CATEGORIES.get(row.category, row.category),
        "reorder_mos": float(row.reorder_mos),
        "target_mos": float(row.target_mos),
        "lead_time_days": row.lead_time_days,
        "version": row.version,
        "updated_at": row.updated_at.isoformat(),
        "updated_by": row.updated_by,
    }


async def list_category_policies(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(category_policies).order_by(category_policies.c.category))
    return [category_body(r) for r in rows]


async def category_policy_body(session: AsyncSession, category: str) -> dict[str, Any]:
    row = (
        await session.execute(
            select(category_policies).where(category_policies.c.category == category)
        )
    ).first()
    if row is None:
        raise NotFound(f"物资类别没有默认策略：{category} (no policy for category {category})")
    return category_body(row)


async def stock_policy_body(
    session: AsyncSession, warehouse_code: str, item_code: str, *, scope: str | None
) -> dict[str, Any]:
    place = await warehouse_by_code(session, warehouse_code)
    await ensure_sees(session, scope, place.code, place.org_code)
    item = await item_by_code(session, item_code)
    row = (
        await session.execute(
            select(stock_policies).where(
                stock_policies.c.warehouse_id == place.id, stock_policies.c.item_id == item.id
            )
        )
    ).first()
    if row is None:
        raise NotFound(
            f"{place.code}/{item.code} 没有单独的库存策略（按类别默认） "
            f"(no policy of its own for {place.code}/{item.code}: the category default applies)",
            details={"category": item.category},
        )

    def number(value: Decimal | None) -> float | None:
        return float(value) if value is not None else None

    return {
        "warehouse_code": place.code,
        "item_code": item.code,
        "reorder_mos": number(row.reorder_mos),
        "target_mos": number(row.target_mos),
        "min_quantity": row.min_quantity,
        "max_quantity": row.max_quantity,
        "lead_time_days": row.lead_time_days,
        "version": row.version,
        "updated_at": row.updated_at.isoformat(),
        "updated_by": row.updated_by,
    }
