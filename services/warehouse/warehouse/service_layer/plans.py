"""Season plans (备灾计划): a plan per season names the people each town must serve and a
per-person norm per item (or a target entered directly for a town and item); the gap per town
is the target less what the town's stations hold (available stock, plus what is in transit to
them).

- Held: the available stock (on hand − reserved − expired, as ``/api/v1/stock`` counts it) of
  the town's active warehouses that are not the district's (``warehouses.town = town``), plus
  the units of shipped transfers on their way to them (not yet received).
- :func:`plan_coverage` and :func:`active_plan_gaps` read everything set-wise: one query each
  for the targets, the stock held and the stock in transit, whatever the number of towns.

Plan writes are the district's (``scope.ensure_district``), audited, and bump the plan's
version (If-Match when the caller sends it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.organisations import DISTRICT
from warehouse.adapters.orm import (
    dispatch_allocations,
    dispatches,
    items,
    lots,
    organisations,
    plan_norms,
    plan_targets,
    plan_towns,
    preparedness_plans,
    warehouses,
)
from warehouse.domain.model import SHIPPED, TOWNS, local_today
from warehouse.domain.plans import ACTIVE, gap_of, next_plan_status, norm_target
from warehouse.service_layer import clock, scope
from warehouse.service_layer.stock import audit, expired_lot, item_by_code, warehouse_by_code
from warehouse.service_layer.tx import Tx

__all__ = [
    "TownGap",
    "active_plan_gaps",
    "create_plan",
    "default_source",
    "plan_by_code",
    "plan_coverage",
    "set_norm",
    "set_target",
    "set_town",
    "town_of_org",
    "update_plan",
]


@dataclass(frozen=True)
class TownGap:
    """One town and item of a plan: the target, what the town holds (``held`` includes the
    ``in_transit`` units), and the gap."""

    plan_id: uuid.UUID
    plan_code: str
    plan_name: str
    town: str
    item_id: uuid.UUID
    item_code: str
    item_name: str
    unit: str
    target: int
    held: int
    in_transit: int
    gap: int
    source: str  # "norm" (people × norm) | "entered"
    people: int | None = None


# --------------------------------------------------------------------------- reading


def check_town(town: str) -> None:
    if town not in TOWNS:
        raise ValidationFailed(
            f"未知的镇（街道）：{town}；应为奉化区12个镇街之一 (unknown town {town})",
            details={"town": town, "towns": list(TOWNS)},
        )


async def plan_by_code(session: AsyncSession, code: str) -> Any:
    row = (
        await session.execute(select(preparedness_plans).where(preparedness_plans.c.code == code))
    ).first()
    if row is None:
        raise NotFound(f"备灾计划不存在：{code} (plan {code} not found)")
    return row


async def default_source(session: AsyncSession) -> Any | None:
    """The district warehouse "fill the gap" and requisitions draw on by default: the district
    branch's first active warehouse of kind ``district`` (oldest first, then by code)."""
    return (
        await session.execute(
            select(warehouses)
            .where(
                warehouses.c.kind == "district",
                warehouses.c.active.is_(True),
                warehouses.c.org_code == DISTRICT,
            )
            .order_by(warehouses.c.created_at, warehouses.c.code)
            .limit(1)
        )
    ).first()


async def town_of_org(session: AsyncSession, org_code: str) -> str | None:
    """The town of a town branch (None for the district or an unknown organisation)."""
    town: str | None = (
        await session.execute(select(organisations.c.town).where(organisations.c.code == org_code))
    ).scalar_one_or_none()
    return town


async def plan_coverage(
    session: AsyncSession, plan_id: uuid.UUID, *, today: date | None = None
) -> list[TownGap]:
    """Every town and item of one plan, with its target, held stock and gap."""
    plans = (
        await session.execute(
            select(
                preparedness_plans.c.id, preparedness_plans.c.code, preparedness_plans.c.name
            ).where(preparedness_plans.c.id == plan_id)
        )
    ).all()
    return await _gaps(session, plans, today or local_today(clock.now()))


async def active_plan_gaps(session: AsyncSession, *, today: date | None = None) -> list[TownGap]:
    """Every town and item of every active plan (the plan-gap alerts read these)."""
    plans = (
        await session.execute(
            select(preparedness_plans.c.id, preparedness_plans.c.code, preparedness_plans.c.name)
            .where(preparedness_plans.c.status == ACTIVE)
            .order_by(preparedness_plans.c.code)
        )
    ).all()
    return await _gaps(session, plans, today or local_today(clock.now()))


async def _gaps(session: AsyncSession, plans: Sequence[Any], today: date) -> list[TownGap]:
    if not plans:
        return []
    ids = [p.id for p in plans]
    targets: dict[tuple[uuid.UUID, str, uuid.UUID], tuple[int, str]] = {}
    people: dict[tuple[uuid.UUID, str], int] = {}
    for r in await session.execute(
        select(plan_towns.c.plan_id, plan_towns.c.town, plan_towns.c.people).where(
            plan_towns.c.plan_id.in_(ids)
        )
    ):
        people[(r.plan_id, r.town)] = r.people
    for r in await session.execute(
        select(plan_towns.c.plan_id, plan_towns.c.town, plan_towns.c.people, plan_norms)
        .join(plan_norms, plan_norms.c.plan_id == plan_towns.c.plan_id)
        .where(plan_towns.c.plan_id.in_(ids))
    ):
        targets[(r.plan_id, r.town, r.item_id)] = (norm_target(r.people, r.per_person), "norm")
    for r in await session.execute(select(plan_targets).where(plan_targets.c.plan_id.in_(ids))):
        targets[(r.plan_id, r.town, r.item_id)] = (r.quantity, "entered")  # entered wins
    if not targets:
        return []
    towns = {town for _, town, _ in targets}
    item_ids = {item_id for _, _, item_id in targets}
    catalogue = {
        r.id: r
        for r in await session.execute(
            select(items.c.id, items.c.code, items.c.name, items.c.unit).where(
                items.c.id.in_(item_ids)
            )
        )
    }
    available = await held_by_town(session, towns, item_ids, today)
    transit = await in_transit_by_town(session, towns, item_ids)
    names = {p.id: p for p in plans}
    result = []
    for (plan_id, town, item_id), (target, source) in targets.items():
        item = catalogue[item_id]
        moving = transit.get((town, item_id), 0)
        held = available.get((town, item_id), 0) + moving
        result.append(
            TownGap(
                plan_id=plan_id,
                plan_code=names[plan_id].code,
                plan_name=names[plan_id].name,
                town=town,
                item_id=item_id,
                item_code=item.code,
                item_name=item.name,
                unit=item.unit,
                target=target,
                held=held,
                in_transit=moving,
                gap=gap_of(target, held),
                source=source,
                people=people.get((plan_id, town)),
            )
        )
    order = {town: n for n, town in enumerate(TOWNS)}
    result.sort(key=lambda g: (g.plan_code, order.get(g.town, 99), g.item_code))
    return result


def _town_warehouses() -> Any:
    """The warehouses that hold a town's stock: active, in the town, not the district's."""
    return and_(warehouses.c.active.is_(True), warehouses.c.kind != "district")


async def held_by_town(
    session: AsyncSession, towns: set[str], item_ids: set[uuid.UUID], today: date
) -> dict[tuple[str, uuid.UUID], int]:
    """Available units per (town, item) in the towns' warehouses: an expired lot has none."""
    available = func.sum(case((expired_lot(today), 0), else_=lots.c.on_hand - lots.c.reserved))
    rows = await session.execute(
        select(warehouses.c.town, lots.c.item_id, available.label("available"))
        .join(warehouses, warehouses.c.id == lots.c.warehouse_id)
        .where(
            _town_warehouses(),
            warehouses.c.town.in_(towns),
            lots.c.item_id.in_(item_ids),
            lots.c.on_hand > 0,
        )
        .group_by(warehouses.c.town, lots.c.item_id)
    )
    return {(r.town, r.item_id): int(r.available) for r in rows}


async def in_transit_by_town(
    session: AsyncSession, towns: set[str], item_ids: set[uuid.UUID]
) -> dict[tuple[str, uuid.UUID], int]:
    """Units of shipped transfers not yet received, per destination town and item."""
    rows = await session.execute(
        select(
            warehouses.c.town,
            dispatch_allocations.c.item_id,
            func.sum(dispatch_allocations.c.quantity).label("quantity"),
        )
        .join(dispatches, dispatches.c.id == dispatch_allocations.c.dispatch_id)
        .join(warehouses, warehouses.c.id == dispatches.c.destination_warehouse_id)
        .where(
            dispatches.c.kind == "transfer",
            dispatches.c.status == SHIPPED,
            _town_warehouses(),
            warehouses.c.town.in_(towns),
            dispatch_allocations.c.item_id.in_(item_ids),
        )
        .group_by(warehouses.c.town, dispatch_allocations.c.item_id)
    )
    return {(r.town, r.item_id): int(r.quantity) for r in rows}


# --------------------------------------------------------------------------- writing


def _district(actor_org: str) -> None:
    scope.ensure_district(actor_org, "编制备灾计划", "edit preparedness plans")


async def _source_id(session: AsyncSession, code: str | None) -> uuid.UUID | None:
    if code is None:
        found = await default_source(session)
        return found.id if found is not None else None
    source = await warehouse_by_code(session, code)
    if not source.active:
        raise Conflict(f"仓库已停用：{code} (warehouse {code} is inactive)")
    return uuid.UUID(str(source.id))


async def create_plan(
    tx: Tx,
    *,
    code: str,
    name: str,
    season_start: date,
    season_end: date,
    source_warehouse_code: str | None,
    note: str | None,
    actor: str,
    actor_org: str,
) -> uuid.UUID:
    _district(actor_org)
    session = tx.session
    if season_end < season_start:
        raise ValidationFailed("季节结束日期不能早于开始日期 (season_end is before season_start)")
    exists = (
        await session.execute(
            select(preparedness_plans.c.id).where(preparedness_plans.c.code == code)
        )
    ).first()
    if exists is not None:
        raise Conflict(f"备灾计划编码已存在：{code} (plan {code} exists)")
    now = clock.now()
    plan_id = uuid7()
    source = await _source_id(session, source_warehouse_code)
    await session.execute(
        pg_insert(preparedness_plans).values(
            id=plan_id,
            code=code,
            name=name,
            season_start=season_start,
            season_end=season_end,
            status="draft",
            source_warehouse_id=source,
            note=note,
            version=1,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    )
    await _audit(session, actor, "plan.create", code, {"name": name, "source": str(source)})
    return plan_id


async def _bump(session: AsyncSession, plan: Any, expected: int | None, **values: Any) -> None:
    """Write ``values`` and the next version if the plan is still at ``expected`` (if given)."""
    query = update(preparedness_plans).where(preparedness_plans.c.id == plan.id)
    if expected is not None:
        query = query.where(preparedness_plans.c.version == expected)
    result = await session.execute(
        query.values(
            version=preparedness_plans.c.version + 1, updated_at=clock.now(), **values
        ).returning(preparedness_plans.c.version)
    )
    if result.first() is None:
        raise Conflict(
            "备灾计划已被他人修改，请刷新后重试 (version mismatch)",
            details={"current_version": plan.version},
        )


async def _editable(session: AsyncSession, code: str, actor_org: str) -> Any:
    _district(actor_org)
    plan = await plan_by_code(session, code)
    if plan.status == "closed":
        raise Conflict(f"备灾计划已结束，不能修改：{code} (plan {code} is closed)")
    return plan


async def update_plan(
    tx: Tx,
    code: str,
    changes: Mapping[str, Any],
    *,
    expected: int | None,
    actor: str,
    actor_org: str,
) -> None:
    """Change the name, season, note or source, and/or ``action`` (activate | close)."""
    session = tx.session
    _district(actor_org)
    plan = await plan_by_code(session, code)
    values = {
        k: v for k, v in changes.items() if k in {"name", "season_start", "season_end", "note"}
    }
    if not values and "action" not in changes and "source_warehouse_code" not in changes:
        raise ValidationFailed("没有要修改的字段 (nothing to change)")
    if plan.status == "closed":
        raise Conflict(f"备灾计划已结束，不能修改：{code} (plan {code} is closed)")
    if "source_warehouse_code" in changes:
        values["source_warehouse_id"] = await _source_id(session, changes["source_warehouse_code"])
    start = values.get("season_start", plan.season_start)
    end = values.get("season_end", plan.season_end)
    if end < start:
        raise ValidationFailed("季节结束日期不能早于开始日期 (season_end is before season_start)")
    action = changes.get("action")
    if action:
        try:
            values["status"] = next_plan_status(plan.status, action)
        except ValueError as exc:
            raise Conflict(str(exc), details={"status": plan.status, "action": action}) from exc
    await _bump(session, plan, expected, **values)
    detail = {k: str(v) for k, v in values.items()}
    await _audit(session, actor, f"plan.{action or 'update'}", code, detail)


async def set_town(
    tx: Tx, code: str, town: str, people: int, *, expected: int | None, actor: str, actor_org: str
) -> None:
    check_town(town)
    session = tx.session
    plan = await _editable(session, code, actor_org)
    statement = pg_insert(plan_towns).values(plan_id=plan.id, town=town, people=people)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[plan_towns.c.plan_id, plan_towns.c.town], set_={"people": people}
        )
    )
    await _bump(session, plan, expected)
    await _audit(session, actor, "plan.town", code, {"town": town, "people": people})


async def set_norm(
    tx: Tx,
    code: str,
    item_code: str,
    per_person: Decimal,
    *,
    expected: int | None,
    actor: str,
    actor_org: str,
) -> None:
    session = tx.session
    plan = await _editable(session, code, actor_org)
    item = await item_by_code(session, item_code)
    statement = pg_insert(plan_norms).values(
        plan_id=plan.id, item_id=item.id, per_person=per_person
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[plan_norms.c.plan_id, plan_norms.c.item_id],
            set_={"per_person": per_person},
        )
    )
    await _bump(session, plan, expected)
    await _audit(
        session, actor, "plan.norm", code, {"item_code": item_code, "per_person": str(per_person)}
    )


async def set_target(
    tx: Tx,
    code: str,
    town: str,
    item_code: str,
    quantity: int | None,
    *,
    expected: int | None,
    actor: str,
    actor_org: str,
) -> None:
    """Enter a town's target for an item (it wins over people × norm); ``None`` removes it."""
    check_town(town)
    session = tx.session
    plan = await _editable(session, code, actor_org)
    item = await item_by_code(session, item_code)
    if quantity is None:
        gone = await session.execute(
            delete(plan_targets)
            .where(
                plan_targets.c.plan_id == plan.id,
                plan_targets.c.town == town,
                plan_targets.c.item_id == item.id,
            )
            .returning(plan_targets.c.quantity)
        )
        if gone.first() is None:
            raise NotFound(f"该镇该物资没有直接录入的目标：{town} {item_code} (no target entered)")
    else:
        statement = pg_insert(plan_targets).values(
            plan_id=plan.id, town=town, item_id=item.id, quantity=quantity
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    plan_targets.c.plan_id,
                    plan_targets.c.town,
                    plan_targets.c.item_id,
                ],
                set_={"quantity": quantity},
            )
        )
    await _bump(session, plan, expected)
    await _audit(
        session,
        actor,
        "plan.target" if quantity is not None else "plan.target.delete",
        code,
        {"town": town, "item_code": item_code, "quantity": quantity},
    )


async def _audit(
    session: AsyncSession, actor: str, action: str, code: str, detail: dict[str, Any]
) -> None:
    await audit(
        session,
        actor=actor,
        action=action,
        entity_type="preparedness_plan",
        entity_id=code,
        at=clock.now(),
        detail=detail,
    )
