"""Reading season plans: one plan's body (its towns, norms and entered targets), the list, and
the coverage per town (``warehouse.service_layer.plans.plan_coverage``) as the API shows it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, read_page
from warehouse.adapters.orm import (
    items,
    plan_norms,
    plan_targets,
    plan_towns,
    preparedness_plans,
    warehouses,
)
from warehouse.domain.model import TOWNS
from warehouse.domain.plans import coverage_of
from warehouse.service_layer.plans import TownGap, plan_by_code

_TOWN_ORDER = {town: n for n, town in enumerate(TOWNS)}


def _head(row: Any, source_code: str | None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "code": row.code,
        "name": row.name,
        "season_start": row.season_start.isoformat(),
        "season_end": row.season_end.isoformat(),
        "status": row.status,
        "source_warehouse_code": source_code,
        "note": row.note,
        "version": row.version,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def _source_codes(session: AsyncSession, ids: set[Any]) -> dict[Any, str]:
    ids.discard(None)
    if not ids:
        return {}
    rows = await session.execute(
        select(warehouses.c.id, warehouses.c.code).where(warehouses.c.id.in_(ids))
    )
    return {r.id: r.code for r in rows}


async def plan_body(session: AsyncSession, code: str) -> dict[str, Any]:
    """One plan, JSON-ready: its head, the people per town, the norms and entered targets."""
    plan = await plan_by_code(session, code)
    codes = await _source_codes(session, {plan.source_warehouse_id})
    towns = (await session.execute(select(plan_towns).where(plan_towns.c.plan_id == plan.id))).all()
    norms = (
        await session.execute(
            select(items.c.code, items.c.name, items.c.unit, plan_norms.c.per_person)
            .join(items, items.c.id == plan_norms.c.item_id)
            .where(plan_norms.c.plan_id == plan.id)
            .order_by(items.c.code)
        )
    ).all()
    targets = (
        await session.execute(
            select(plan_targets.c.town, items.c.code, plan_targets.c.quantity)
            .join(items, items.c.id == plan_targets.c.item_id)
            .where(plan_targets.c.plan_id == plan.id)
            .order_by(plan_targets.c.town, items.c.code)
        )
    ).all()
    return _head(plan, codes.get(plan.source_warehouse_id)) | {
        "towns": [
            {"town": t.town, "people": t.people}
            for t in sorted(towns, key=lambda t: _TOWN_ORDER.get(t.town, 99))
        ],
        "norms": [
            {
                "item_code": n.code,
                "item_name": n.name,
                "unit": n.unit,
                "per_person": str(n.per_person),
            }
            for n in norms
        ],
        "targets": [{"town": t.town, "item_code": t.code, "quantity": t.quantity} for t in targets],
    }


async def list_plans(
    session: AsyncSession, *, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Plans, the latest season first (then by code)."""
    query = select(preparedness_plans)
    if status:
        query = query.where(preparedness_plans.c.status == status)
    if cursor:
        start, code = decode_cursor(cursor, 2, str, str)
        try:
            season_start = date.fromisoformat(start)
        except ValueError:
            raise ValidationFailed("无效的分页游标 (invalid cursor)") from None
        query = query.where(
            tuple_(preparedness_plans.c.season_start, preparedness_plans.c.code)
            < tuple_(season_start, code)
        )
    query = query.order_by(
        preparedness_plans.c.season_start.desc(), preparedness_plans.c.code.desc()
    )
    rows, next_cursor = await read_page(
        session, query, limit, lambda r: (r.season_start.isoformat(), r.code)
    )
    codes = await _source_codes(session, {r.source_warehouse_id for r in rows})
    return {
        "items": [_head(r, codes.get(r.source_warehouse_id)) for r in rows],
        "next_cursor": next_cursor,
    }


def coverage_body(plan: dict[str, Any], gaps: list[TownGap]) -> dict[str, Any]:
    """The coverage per town of a plan (``plan`` its body's head)."""
    by_town: dict[str, list[TownGap]] = defaultdict(list)
    for g in gaps:
        by_town[g.town].append(g)
    towns = []
    for town in sorted(by_town, key=lambda t: _TOWN_ORDER.get(t, 99)):
        lines = by_town[town]
        towns.append(
            {
                "town": town,
                "people": lines[0].people,
                "target_units": sum(g.target for g in lines),
                "held_units": sum(g.held for g in lines),
                "gap_units": sum(g.gap for g in lines),
                "coverage": coverage_of((g.target, g.held) for g in lines),
                "lines": [
                    {
                        "item_code": g.item_code,
                        "item_name": g.item_name,
                        "unit": g.unit,
                        "target": g.target,
                        "held": g.held,
                        "in_transit": g.in_transit,
                        "gap": g.gap,
                        "source": g.source,
                    }
                    for g in lines
                ],
            }
        )
    return {"plan": plan, "towns": towns}


COVERAGE_HEADERS = [
    "计划 plan",
    "镇街 town",
    "服务人数 people",
    "物资编码 item_code",
    "物资名称 item_name",
    "单位 unit",
    "目标 target",
    "现有(含在途) held",
    "在途 in_transit",
    "缺口 gap",
    "目标来源 source",
]


def coverage_rows(gaps: list[TownGap]) -> list[list[Any]]:
    return [
        [
            g.plan_code,
            g.town,
            g.people,
            g.item_code,
            g.item_name,
            g.unit,
            g.target,
            g.held,
            g.in_transit,
            g.gap,
            g.source,
        ]
        for g in gaps
    ]
