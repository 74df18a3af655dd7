"""「补缺口」 Fill the gap: transfers from a plan's source warehouse (the district's) that would
close the towns' gaps.

- What each town still needs: its gap (``plan_coverage``) less what open transfers
  (requested, approved, picked) already bring it, so filling twice does not ask twice.
- What the source can give: its lots in FEFO order, less what dispatches from it requested or
  approved will pick (taken first, FEFO), (``pick_fefo``), never an expired lot or
  one within the picking minimum of shelf life, never a lot designated to a project (a fill
  serves no project); towns draw on it in the district's town order, each taking what the
  previous left. What it cannot give is shown as ``short``.
- Destination: the town's station — its active warehouse of kind ``station``; when a town has
  several, the oldest (first created, then by code). A town without one is skipped, saying so.
- :func:`fill_gap` requests one transfer per town through the existing dispatch command
  (``dispatch.request_dispatch``): status requested, so the four-eyes approval applies.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict
from warehouse.adapters.orm import dispatches, lots, warehouses
from warehouse.domain.commands import Destination, RequestDispatch
from warehouse.domain.errors import InsufficientStock
from warehouse.domain.model import (
    APPROVED,
    OPEN,
    REQUESTED,
    LotStock,
    is_pickable,
    local_today,
    pick_fefo,
)
from warehouse.service_layer import clock, scope
from warehouse.service_layer.dispatch import request_dispatch
from warehouse.service_layer.dispatch_steps import Outcome
from warehouse.service_layer.plans import check_town, plan_by_code, plan_coverage
from warehouse.service_layer.stock import audit
from warehouse.service_layer.tx import Tx


@dataclass
class FillLine:
    item_code: str
    item_name: str
    unit: str
    gap: int
    already_requested: int  # on open transfers to the town
    quantity: int  # what the source can give now
    short: int  # what it cannot
    lots: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TownFill:
    town: str
    destination_warehouse_code: str | None
    lines: list[FillLine]
    note: str | None = None

    @property
    def fillable(self) -> list[FillLine]:
        return [line for line in self.lines if line.quantity > 0]


@dataclass
class FillPlan:
    plan_code: str
    source_warehouse_code: str
    towns: list[TownFill]


async def _stations(session: AsyncSession, towns: set[str]) -> dict[str, str]:
    """Each town's station: its oldest active warehouse of kind ``station``."""
    rows = await session.execute(
        select(warehouses.c.town, warehouses.c.code)
        .where(
            warehouses.c.kind == "station",
            warehouses.c.active.is_(True),
            warehouses.c.town.in_(towns),
        )
        .order_by(warehouses.c.created_at, warehouses.c.code)
    )
    chosen: dict[str, str] = {}
    for r in rows:
        chosen.setdefault(r.town, r.code)
    return chosen


async def _open_transfers(session: AsyncSession, towns: set[str]) -> dict[tuple[str, str], int]:
    """Units on open (not yet shipped) transfers into each town's warehouses, per item id."""
    rows = await session.execute(
        select(warehouses.c.town, dispatches.c.lines)
        .join(warehouses, warehouses.c.id == dispatches.c.destination_warehouse_id)
        .where(
            dispatches.c.kind == "transfer",
            dispatches.c.status.in_(OPEN),
            warehouses.c.kind != "district",
            warehouses.c.town.in_(towns),
        )
    )
    pending: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        for line in r.lines:
            pending[(r.town, str(line["item_id"]))] += int(line["quantity"])
    return pending


async def _promised(session: AsyncSession, source_id: uuid.UUID) -> dict[str, int]:
    """Units the source has promised but not yet reserved: dispatches from it requested or
    approved (picking reserves them later), per item id."""
    rows = await session.execute(
        select(dispatches.c.lines).where(
            dispatches.c.from_warehouse_id == source_id,
            dispatches.c.status.in_((REQUESTED, APPROVED)),
        )
    )
    promised: dict[str, int] = defaultdict(int)
    for r in rows:
        for line in r.lines:
            promised[str(line["item_id"])] += int(line["quantity"])
    return promised


async def _source_lots(
    session: AsyncSession, source_id: uuid.UUID, item_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[LotStock]]:
    rows = await session.execute(
        select(lots).where(
            lots.c.warehouse_id == source_id,
            lots.c.item_id.in_(item_ids),
            lots.c.on_hand > lots.c.reserved,
            lots.c.designated_project.is_(None),
        )
    )
    found: dict[uuid.UUID, list[LotStock]] = defaultdict(list)
    for r in rows:
        found[r.item_id].append(
            LotStock(r.id, r.lot_no, r.expiry_date, r.on_hand, r.reserved, r.received_at)
        )
    return found


async def source_pickable(
    session: AsyncSession,
    source_id: uuid.UUID,
    item_ids: set[uuid.UUID],
    *,
    today: date,
    min_days: int,
) -> dict[uuid.UUID, int]:
    """Per item, what the source can still give: its pickable units (FEFO's rule: not
    expired, not expiring within ``min_days``, not designated to a project) less what its
    requested or approved dispatches have promised and not yet reserved."""
    pools = await _source_lots(session, source_id, item_ids)
    promised = await _promised(session, source_id)
    return {
        item_id: max(
            0,
            sum(
                lot.available
                for lot in pools.get(item_id, [])
                if is_pickable(lot, today=today, min_days=min_days)
            )
            - promised.get(str(item_id), 0),
        )
        for item_id in item_ids
    }


def _take(
    pool: list[LotStock], wanted: int, *, today: date, min_days: int
) -> tuple[int, list[tuple[LotStock, int]]]:
    """FEFO over ``pool`` for up to ``wanted`` units: (units taken, the picks); ``pool`` keeps
    what is left (the next town draws on it)."""
    if wanted <= 0:
        return 0, []
    try:
        picks = pick_fefo(pool, wanted, today=today, min_days=min_days)
    except InsufficientStock as exc:
        pickable = int((exc.details or {}).get("pickable", 0))
        if pickable == 0:
            return 0, []
        picks = pick_fefo(pool, pickable, today=today, min_days=min_days)
    taken = {lot.lot_id: q for lot, q in picks}
    pool[:] = [
        LotStock(
            lot.lot_id,
            lot.lot_no,
            lot.expiry_date,
            lot.on_hand,
            lot.reserved + taken.get(lot.lot_id, 0),
            lot.received_at,
        )
        for lot in pool
    ]
    return sum(taken.values()), picks


async def preview_fill(
    session: AsyncSession, code: str, *, town: str | None, min_days: int
) -> FillPlan:
    """The transfers that would close the gaps of plan ``code`` (of one town, if named)."""
    if town is not None:
        check_town(town)
    plan = await plan_by_code(session, code)
    if plan.source_warehouse_id is None:
        raise Conflict(f"备灾计划未设置调出仓库：{code} (plan {code} has no source warehouse)")
    source = (
        await session.execute(select(warehouses).where(warehouses.c.id == plan.source_warehouse_id))
    ).one()
    today = local_today(clock.now())
    gaps = [g for g in await plan_coverage(session, plan.id, today=today) if g.gap > 0]
    if town is not None:
        gaps = [g for g in gaps if g.town == town]
    towns = {g.town for g in gaps}
    stations = await _stations(session, towns)
    pending = await _open_transfers(session, towns)
    pools = await _source_lots(session, source.id, {g.item_id for g in gaps})
    promised = await _promised(session, source.id)
    for item_id, pool in pools.items():  # what is promised goes first, as picking will take it
        _take(pool, promised.get(str(item_id), 0), today=today, min_days=min_days)
    by_town: dict[str, list[FillLine]] = defaultdict(list)
    for g in gaps:  # in town order, then item code
        already = pending.get((g.town, str(g.item_id)), 0)
        wanted = max(0, g.gap - already)
        quantity, picks = 0, list[tuple[LotStock, int]]()
        if g.town in stations:
            quantity, picks = _take(pools[g.item_id], wanted, today=today, min_days=min_days)
        by_town[g.town].append(
            FillLine(
                item_code=g.item_code,
                item_name=g.item_name,
                unit=g.unit,
                gap=g.gap,
                already_requested=already,
                quantity=quantity,
                short=wanted - quantity,
                lots=[
                    {
                        "lot_no": lot.lot_no,
                        "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
                        "quantity": q,
                    }
                    for lot, q in picks
                ],
            )
        )
    return FillPlan(
        plan_code=code,
        source_warehouse_code=source.code,
        towns=[
            TownFill(
                town=t,
                destination_warehouse_code=stations.get(t),
                lines=lines,
                note=None
                if t in stations
                else f"{t}没有在用的救灾站仓库，无法调拨 (no active station in {t})",
            )
            for t, lines in by_town.items()
        ],
    )


async def fill_gap(
    tx: Tx,
    code: str,
    *,
    town: str | None,
    min_days: int,
    actor: str,
    actor_org: str,
) -> tuple[FillPlan, list[Outcome]]:
    """Request one transfer per town that the source can help; the preview and the dispatches."""
    scope.ensure_district(actor_org, "按备灾计划补缺口", "fill a plan's gaps")
    plan = await plan_by_code(tx.session, code)
    if plan.status == "closed":
        raise Conflict(f"备灾计划已结束：{code} (plan {code} is closed)")
    preview = await preview_fill(tx.session, code, town=town, min_days=min_days)
    created: list[Outcome] = []
    for fill in preview.towns:
        lines = fill.fillable
        if fill.destination_warehouse_code is None or not lines:
            continue
        done = await request_dispatch(
            tx,
            RequestDispatch(
                from_warehouse_code=preview.source_warehouse_code,
                destination=Destination(
                    kind="warehouse", warehouse_code=fill.destination_warehouse_code
                ),
                lines=tuple((line.item_code, line.quantity) for line in lines),
                actor=actor,
                actor_org=actor_org,
                note=f"备灾计划 {code} 补缺口 (fill the gap of plan {code})",
                requested_at=clock.now(),
            ),
        )
        created.append(done)
    if not created:
        raise Conflict(
            "没有可补的缺口：无缺口、已在调拨中、调出仓库无可拣库存或镇街无站点仓库"
            " (nothing to fill: no gap, already requested, nothing pickable at the source,"
            " or no station in the town)",
            details={"towns": [t.town for t in preview.towns]},
        )
    await audit(
        tx.session,
        actor=actor,
        action="plan.fill_gap",
        entity_type="preparedness_plan",
        entity_id=code,
        at=clock.now(),
        detail={"dispatches": [str(d.row.id) for d in created], "town": town},
    )
    return preview, created
