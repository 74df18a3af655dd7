"""Smart preparedness (智慧备灾), read side: every warehouse × item assessed at once.

:func:`assess` reads set-wise — a fixed number of queries whatever the number of warehouses
and items (warehouses, levels, lots, consumption, stock-out time, in transit, on order,
policies) — then applies the pure rules of :mod:`warehouse.domain.preparedness` per pair.

What the figures are made of:

* **Consumption**: the ``shipment`` movements of dispatches in the look-back window
  (``amc_lookback_days`` up to now), less the ``return`` movements booked at sign-off for a
  dispatch (units the recipient sent back were not consumed). A dispatch of kind ``transfer``
  is a transfer, one with an ``incident_code`` an incident dispatch; the settings
  ``amc_exclude_transfers`` / ``amc_exclude_incidents`` leave them out. A transfer's receipt
  at the receiving warehouse is a ``receipt``, never consumption.
* **Stock-out time**: from ``on_hand_after`` of the movements (the level of the warehouse and
  item after each), the time in the window during which on hand was 0, in whole days rounded
  down (:func:`warehouse.domain.preparedness.days_out_of_stock`, computed here in SQL with the
  same rule). A pair with no movement before the window starts it at 0.
* **Available** = on hand − reserved − unreserved units of expired lots (as ``/stock``).
* **In transit** (to the receiving warehouse): allocations of ``shipped`` transfer dispatches
  into it. **On order**: lines of ``expected`` inbounds announced to it, plus lines of open
  (requested, approved, picked) transfer dispatches into it.
* **Expiring within the lead time**: available units of lots that expire before today + the
  policy's lead time.
* **Policy**: the warehouse+item override (``stock_policies``), its empty fields taken from
  the category default (``category_policies``); :data:`FALLBACK_POLICY` if neither exists.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.organisations import DISTRICT
from warehouse.adapters.orm import (
    category_policies,
    dispatch_allocations,
    dispatches,
    items,
    lots,
    stock_levels,
    stock_policies,
    warehouses,
)
from warehouse.config import WarehouseSettings
from warehouse.domain.model import OPEN, LotStock, is_expired, local_today
from warehouse.domain.preparedness import (
    Issue,
    Policy,
    RotationLot,
    Suggestion,
    average_monthly_consumption,
    below_reorder,
    expiring_within,
    months_of_stock,
    rotation,
    suggest,
)
from warehouse.service_layer import clock

# When a category has no default row (a category added after migration 0006)
FALLBACK_POLICY = Policy(
    reorder_mos=Decimal(2), target_mos=Decimal(4), lead_time_days=30, source="category"
)
DISTRICT_TOWN = "区仓库"  # the heat map's row of the warehouses without a town

Pair = tuple[uuid.UUID, uuid.UUID]


@dataclass(frozen=True)
class LevelAssessment:
    warehouse_id: uuid.UUID
    warehouse_code: str
    warehouse_name: str
    town: str | None
    org_code: str
    item_id: uuid.UUID
    item_code: str
    item_name: str
    category: str
    unit: str
    on_hand: int
    available: int
    amc: Decimal
    mos: Decimal | None
    days_out_of_stock: int
    policy: Policy
    in_transit: int
    on_order: int
    expiring_within_lead: int
    suggestion: Suggestion
    below_reorder: bool


@dataclass(frozen=True)
class RotationRow:
    lot: RotationLot
    warehouse_code: str
    warehouse_name: str
    town: str | None
    item_code: str
    item_name: str
    category: str
    unit: str
    amc: Decimal
    # for action "transfer": the warehouse that consumes the item most
    transfer_to_code: str | None = None
    transfer_to_name: str | None = None


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    days: int
    today: date


def window_of(settings: WarehouseSettings, today: date | None = None) -> Window:
    end = clock.now()
    days = settings.amc_lookback_days
    return Window(end - timedelta(days=days), end, days, today or local_today(end))


# ------------------------------------------------------------------------------- the reads


async def _warehouses(
    session: AsyncSession, org_code: str | None, warehouse_ids: Collection[uuid.UUID] | None
) -> dict[uuid.UUID, Any]:
    query = select(warehouses).where(warehouses.c.active.is_(True))
    if org_code is not None and org_code != DISTRICT:
        query = query.where(warehouses.c.org_code == org_code)
    if warehouse_ids is not None:
        query = query.where(warehouses.c.id.in_(list(warehouse_ids)))
    return {row.id: row for row in await session.execute(query)}


def _pairs_of(query: Any, wh_column: Any, item_column: Any, wh: list[uuid.UUID], it: Any) -> Any:
    query = query.where(wh_column.in_(wh))
    return query.where(item_column.in_(it)) if it is not None else query


async def _levels(session: AsyncSession, wh: list[uuid.UUID], it: list[uuid.UUID] | None) -> Any:
    query = select(
        stock_levels.c.warehouse_id,
        stock_levels.c.item_id,
        stock_levels.c.on_hand,
        stock_levels.c.reserved,
        items.c.code,
        items.c.name,
        items.c.category,
        items.c.unit,
    ).join(items, and_(items.c.id == stock_levels.c.item_id, items.c.active.is_(True)))
    return (
        await session.execute(_pairs_of(query, stock_levels.c.warehouse_id, items.c.id, wh, it))
    ).all()


async def _lots(
    session: AsyncSession, wh: list[uuid.UUID], it: list[uuid.UUID] | None
) -> dict[Pair, list[LotStock]]:
    query = select(
        lots.c.id,
        lots.c.lot_no,
        lots.c.expiry_date,
        lots.c.on_hand,
        lots.c.reserved,
        lots.c.received_at,
        lots.c.warehouse_id,
        lots.c.item_id,
    ).where(lots.c.expiry_date.is_not(None), lots.c.on_hand > lots.c.reserved)
    found: dict[Pair, list[LotStock]] = defaultdict(list)
    rows = await session.execute(_pairs_of(query, lots.c.warehouse_id, lots.c.item_id, wh, it))
    for lot_id, lot_no, expiry, on_hand, reserved, received_at, warehouse_id, item_id in rows:
        found[(warehouse_id, item_id)].append(
            LotStock(lot_id, lot_no, expiry, on_hand, reserved, received_at)
        )
    return found


# One pass over the window's movements gives both the consumption and the stock-out time of
# every pair, with aggregates only (no sort, no window function): the movements of each pair
# since the window's start come from the index (warehouse_id, item_id, at), a few dozen per
# pair; with their dispatch, if any.
#
# Stock-out time without ordering the movements: a movement that takes the level from above 0
# to 0 (``on_hand_after = 0``, ``on_hand_after − on_hand_delta > 0``) opens a period at zero, one
# that takes it from 0 to above 0 closes one. The time at zero is Σ closing times − Σ opening
# times, plus the window's end if the level is 0 there, minus the window's start if it was 0
# then. The level at the end is the level now less what moved after the end; whether it was 0
# at the start follows from the counts (opened − closed = zero at the end − zero at the start).
# Movements booked at the same instant open and close in any order: the sums do not care.
#
# Consumption is summed per kind (transfer, incident) with FILTERs: the settings decide in
# Python what counts. A pair without movements since the window's start kept its level all
# along: out of stock the whole window when that level is 0 (see ``assess``).
_MOVEMENTS_SQL = """
WITH pairs AS (
    SELECT warehouse_id, item_id, on_hand FROM stock_levels
    WHERE warehouse_id = ANY(:wh) {item_filter}
), moves AS (
    SELECT p.warehouse_id, p.item_id, p.on_hand, m.at, m.on_hand_delta AS delta,
           m.on_hand_after AS after, m.movement, m.reference_id,
           m.at < CAST(:end AS timestamptz) AS in_window,
           EXTRACT(EPOCH FROM m.at - CAST(:start AS timestamptz)) AS t
    FROM pairs p CROSS JOIN LATERAL (
        SELECT at, on_hand_delta, on_hand_after, movement, reference_id
        FROM stock_movements m
        WHERE m.warehouse_id = p.warehouse_id AND m.item_id = p.item_id
          AND m.at >= CAST(:start AS timestamptz)
    ) m
)
SELECT mv.warehouse_id, mv.item_id, MIN(mv.on_hand) AS on_hand,
       COALESCE(SUM(mv.delta) FILTER (WHERE NOT mv.in_window), 0) AS moved_after,
       COUNT(*) FILTER (WHERE mv.in_window AND mv.after = 0 AND mv.after - mv.delta > 0) AS opened,
       COUNT(*) FILTER (WHERE mv.in_window AND mv.after > 0 AND mv.after - mv.delta = 0) AS closed,
       COALESCE(SUM(mv.t) FILTER (
           WHERE mv.in_window AND mv.after = 0 AND mv.after - mv.delta > 0), 0) AS opened_t,
       COALESCE(SUM(mv.t) FILTER (
           WHERE mv.in_window AND mv.after > 0 AND mv.after - mv.delta = 0), 0) AS closed_t,
       MAX(mv.at) FILTER (WHERE d.id IS NOT NULL AND mv.in_window) AS last_issue,
       SUM(-mv.delta) FILTER (WHERE mv.in_window AND d.kind <> 'transfer'
                                AND d.incident_code IS NULL) AS everyday,
       SUM(-mv.delta) FILTER (WHERE mv.in_window AND d.kind = 'transfer'
                                AND d.incident_code IS NULL) AS transfers,
       SUM(-mv.delta) FILTER (WHERE mv.in_window AND d.kind <> 'transfer'
                                AND d.incident_code IS NOT NULL) AS incidents,
       SUM(-mv.delta) FILTER (WHERE mv.in_window AND d.kind = 'transfer'
                                AND d.incident_code IS NOT NULL) AS both_kinds
FROM moves mv
LEFT JOIN dispatches d
    ON d.id = mv.reference_id AND mv.movement IN ('shipment', 'return')
GROUP BY mv.warehouse_id, mv.item_id
"""


def zero_seconds(row: Any, window_seconds: Decimal) -> Decimal:
    """The time at zero of one pair from the aggregates of :data:`_MOVEMENTS_SQL` (times are
    seconds since the window's start, so an implicit opening at the start adds nothing)."""
    zero_at_end = row["on_hand"] - row["moved_after"] == 0
    seconds = Decimal(row["closed_t"]) - Decimal(row["opened_t"])
    return seconds + (window_seconds if zero_at_end else 0)


# (transfer, incident) of each consumption column of _MOVEMENTS_SQL
_KINDS = {
    "everyday": (False, False),
    "transfers": (True, False),
    "incidents": (False, True),
    "both_kinds": (True, True),
}


@dataclass(frozen=True)
class MovementFigures:
    issues: list[Issue]
    days_out: int


async def _movement_figures(
    session: AsyncSession, wh: list[uuid.UUID], it: list[uuid.UUID] | None, window: Window
) -> dict[Pair, MovementFigures]:
    """Per pair with movements in the window: its issues per kind (shipments less sign-off
    returns; a few rows, not one per movement) and its days out of stock."""
    params: dict[str, Any] = {"wh": wh, "start": window.start, "end": window.end}
    item_filter = ""
    if it is not None:
        item_filter, params["items"] = "AND item_id = ANY(:items)", it
    statement = text(_MOVEMENTS_SQL.format(item_filter=item_filter))
    window_seconds = Decimal(str((window.end - window.start).total_seconds()))
    # each pair's index range is read once: a memo of the lookups only costs (a third of the
    # query's time in benchmark 8); for this transaction only
    await session.execute(text("SET LOCAL enable_memoize = off"))
    found: dict[Pair, MovementFigures] = {}
    for r in (await session.execute(statement, params)).mappings():
        issues = [
            Issue(r["last_issue"], int(r[column]), transfer, incident)
            for column, (transfer, incident) in _KINDS.items()
            if r[column] is not None and r[column] > 0
        ]
        days_out = int(zero_seconds(r, window_seconds) // 86_400)
        found[(r["warehouse_id"], r["item_id"])] = MovementFigures(issues, days_out)
    return found


async def _in_transit(
    session: AsyncSession, wh: list[uuid.UUID], it: list[uuid.UUID] | None
) -> dict[Pair, int]:
    d, a = dispatches, dispatch_allocations
    query = (
        select(d.c.destination_warehouse_id, a.c.item_id, func.sum(a.c.quantity).label("q"))
        .select_from(a.join(d, d.c.id == a.c.dispatch_id))
        .where(d.c.kind == "transfer", d.c.status == "shipped")
        .group_by(d.c.destination_warehouse_id, a.c.item_id)
    )
    query = _pairs_of(query, d.c.destination_warehouse_id, a.c.item_id, wh, it)
    return {(r.destination_warehouse_id, r.item_id): int(r.q) for r in await session.execute(query)}


_ON_ORDER_SQL = """
SELECT i.warehouse_id, it.id AS item_id, SUM(CAST(line->>'quantity' AS integer)) AS q
FROM inbounds i
CROSS JOIN LATERAL jsonb_array_elements(i.lines) AS line
JOIN items it ON it.code = line->>'item_code'
WHERE i.status = 'expected' AND i.warehouse_id = ANY(:wh)
GROUP BY i.warehouse_id, it.id
UNION ALL
SELECT d.destination_warehouse_id, CAST(line->>'item_id' AS uuid),
       SUM(CAST(line->>'quantity' AS integer))
FROM dispatches d
CROSS JOIN LATERAL jsonb_array_elements(d.lines) AS line
WHERE d.kind = 'transfer' AND d.status IN :open AND d.destination_warehouse_id = ANY(:wh)
GROUP BY d.destination_warehouse_id, CAST(line->>'item_id' AS uuid)
"""


async def _on_order(session: AsyncSession, wh: list[uuid.UUID]) -> dict[Pair, int]:
    statement = text(_ON_ORDER_SQL).bindparams(bindparam("open", expanding=True))
    found: dict[Pair, int] = defaultdict(int)
    for r in await session.execute(statement, {"wh": wh, "open": sorted(OPEN)}):
        found[(r[0], r[1])] += int(r[2])
    return found


async def _policies(
    session: AsyncSession, wh: list[uuid.UUID], it: list[uuid.UUID] | None
) -> tuple[dict[str, Policy], dict[Pair, Any]]:
    categories = {
        r.category: Policy(r.reorder_mos, r.target_mos, r.lead_time_days, source="category")
        for r in await session.execute(select(category_policies))
    }
    query = _pairs_of(
        select(stock_policies), stock_policies.c.warehouse_id, stock_policies.c.item_id, wh, it
    )
    overrides = {(r.warehouse_id, r.item_id): r for r in await session.execute(query)}
    return categories, overrides


def resolve_policy(category_default: Policy, override: Any | None) -> Policy:
    """The override's fields where set, the category default's otherwise."""
    if override is None:
        return category_default
    return Policy(
        reorder_mos=(
            override.reorder_mos
            if override.reorder_mos is not None
            else category_default.reorder_mos
        ),
        target_mos=(
            override.target_mos if override.target_mos is not None else category_default.target_mos
        ),
        lead_time_days=(
            override.lead_time_days
            if override.lead_time_days is not None
            else category_default.lead_time_days
        ),
        min_quantity=override.min_quantity,
        max_quantity=override.max_quantity,
        source="item",
    )


# ------------------------------------------------------------------------------- assess


async def assess(
    session: AsyncSession,
    settings: WarehouseSettings,
    *,
    today: date | None = None,
    org_code: str | None = None,
    warehouse_ids: Collection[uuid.UUID] | None = None,
    item_ids: Collection[uuid.UUID] | None = None,
) -> list[LevelAssessment]:
    """Every stock level of an active warehouse (of ``org_code``; all for None or the district)
    and active item, assessed; ordered by warehouse code, item code."""
    window = window_of(settings, today)
    places = await _warehouses(session, org_code, warehouse_ids)
    if not places:
        return []
    wh = list(places)
    it = list(item_ids) if item_ids is not None else None
    levels = await _levels(session, wh, it)
    lots_of = await _lots(session, wh, it)
    moved = await _movement_figures(session, wh, it, window)
    transit_of = await _in_transit(session, wh, it)
    order_of = await _on_order(session, wh)
    categories, overrides = await _policies(session, wh, it)

    assessed: list[LevelAssessment] = []
    for level in levels:
        pair: Pair = (level.warehouse_id, level.item_id)
        place = places[level.warehouse_id]
        pair_lots = lots_of.get(pair, [])
        expired = sum(x.available for x in pair_lots if is_expired(x.expiry_date, window.today))
        available = level.on_hand - level.reserved - expired
        figures = moved.get(pair)
        if figures is None:  # no movement in the window: the level stood still all along
            figures = MovementFigures([], window.days if level.on_hand == 0 else 0)
        days_out = figures.days_out
        amc = average_monthly_consumption(
            figures.issues,
            window_days=window.days,
            days_out=days_out,
            exclude_transfers=settings.amc_exclude_transfers,
            exclude_incidents=settings.amc_exclude_incidents,
        )
        policy = resolve_policy(
            categories.get(level.category, FALLBACK_POLICY), overrides.get(pair)
        )
        in_transit, on_order = transit_of.get(pair, 0), order_of.get(pair, 0)
        expiring = expiring_within(
            pair_lots, today=window.today, lead_time_days=policy.lead_time_days
        )
        assessed.append(
            LevelAssessment(
                warehouse_id=place.id,
                warehouse_code=place.code,
                warehouse_name=place.name,
                town=place.town,
                org_code=place.org_code,
                item_id=level.item_id,
                item_code=level.code,
                item_name=level.name,
                category=level.category,
                unit=level.unit,
                on_hand=level.on_hand,
                available=available,
                amc=amc,
                mos=months_of_stock(available, amc),
                days_out_of_stock=days_out,
                policy=policy,
                in_transit=in_transit,
                on_order=on_order,
                expiring_within_lead=expiring,
                suggestion=suggest(
                    amc,
                    policy,
                    available=available,
                    in_transit=in_transit,
                    on_order=on_order,
                    expiring_within_lead=expiring,
                ),
                below_reorder=below_reorder(
                    amc, policy, available=available, in_transit=in_transit, on_order=on_order
                ),
            )
        )
    assessed.sort(key=lambda a: (a.warehouse_code, a.item_code))
    return assessed


async def assess_filtered(
    session: AsyncSession,
    settings: WarehouseSettings,
    *,
    org_code: str | None,
    warehouse_code: str | None = None,
    town: str | None = None,
    category: str | None = None,
    item_code: str | None = None,
    below_reorder: bool | None = None,
) -> list[LevelAssessment]:
    """:func:`assess` filtered the way the lists are: an unknown code lists nothing; ``town``
    :data:`DISTRICT_TOWN` is the warehouses without a town."""
    warehouse_ids: list[uuid.UUID] | None = None
    item_ids: list[uuid.UUID] | None = None
    if warehouse_code:
        found = await session.execute(
            select(warehouses.c.id).where(warehouses.c.code == warehouse_code)
        )
        warehouse_ids = list(found.scalars())
    if item_code or category:
        query = select(items.c.id)
        if item_code:
            query = query.where(items.c.code == item_code)
        if category:
            query = query.where(items.c.category == category)
        item_ids = list((await session.execute(query)).scalars())
    if warehouse_ids == [] or item_ids == []:
        return []
    assessed = await assess(
        session, settings, org_code=org_code, warehouse_ids=warehouse_ids, item_ids=item_ids
    )
    return [
        a
        for a in assessed
        if (town is None or (a.town or DISTRICT_TOWN) == town)
        and (below_reorder is None or a.below_reorder == below_reorder)
    ]


# ------------------------------------------------------------------------------- rotation


async def rotation_list(
    session: AsyncSession,
    settings: WarehouseSettings,
    *,
    today: date | None = None,
    org_code: str | None = None,
) -> list[RotationRow]:
    """The lots (of ``org_code``'s warehouses) that will not be used up before they expire at
    the current AMC, earliest expiry first. The consumption of every warehouse is read to name,
    for a lot nobody here uses, the warehouse that consumes the item most."""
    window = window_of(settings, today)
    district = await assess(session, settings, today=window.today)
    mine = [a for a in district if org_code in (None, DISTRICT) or a.org_code == org_code]
    if not mine:
        return []
    heaviest: dict[uuid.UUID, list[LevelAssessment]] = defaultdict(list)
    for a in district:
        if a.amc > 0:
            heaviest[a.item_id].append(a)
    for consumers in heaviest.values():
        consumers.sort(key=lambda a: (-a.amc, a.warehouse_code))
    lots_of = await _lots(session, list({a.warehouse_id for a in mine}), None)
    rows: list[RotationRow] = []
    for a in mine:
        pair_lots = lots_of.get((a.warehouse_id, a.item_id))
        if not pair_lots:
            continue
        elsewhere = next(
            (c for c in heaviest.get(a.item_id, []) if c.warehouse_id != a.warehouse_id), None
        )
        for lot in rotation(
            pair_lots, a.amc, today=window.today, used_elsewhere=elsewhere is not None
        ):
            target = elsewhere if lot.action == "transfer" else None
            rows.append(
                RotationRow(
                    lot=lot,
                    warehouse_code=a.warehouse_code,
                    warehouse_name=a.warehouse_name,
                    town=a.town,
                    item_code=a.item_code,
                    item_name=a.item_name,
                    category=a.category,
                    unit=a.unit,
                    amc=a.amc,
                    transfer_to_code=target.warehouse_code if target else None,
                    transfer_to_name=target.warehouse_name if target else None,
                )
            )
    rows.sort(key=lambda r: (r.lot.expiry_date, r.warehouse_code, r.item_code, r.lot.lot_no))
    return rows


# ------------------------------------------------------------------------------- heat map


@dataclass(frozen=True)
class HeatCell:
    town: str
    item_code: str
    available: int
    amc: Decimal
    mos: Decimal | None
    # the thresholds the cell is read against: the highest reorder and target MOS among the
    # months-based policies of the town's warehouses (a cell turns red if any of them would);
    # None when every one of them holds the item by min/max quantities
    reorder_mos: Decimal | None = None
    target_mos: Decimal | None = None


def heatmap_cells(assessed: Sequence[LevelAssessment]) -> list[HeatCell]:
    """Per town (the warehouses without a town, the district's, as :data:`DISTRICT_TOWN`)
    and item: the sums of available and of AMC, MOS = their ratio (None without AMC), and the
    thresholds of the town's policies for the item."""
    sums: dict[tuple[str, str], list[Any]] = {}
    for a in assessed:
        key = (a.town or DISTRICT_TOWN, a.item_code)
        total = sums.setdefault(key, [0, Decimal(0), None, None])
        total[0] += a.available
        total[1] += a.amc
        if not a.policy.min_max:
            total[2] = max(total[2] or a.policy.reorder_mos, a.policy.reorder_mos)
            total[3] = max(total[3] or a.policy.target_mos, a.policy.target_mos)
    return [
        HeatCell(town, code, available, amc, months_of_stock(available, amc), reorder, target)
        for (town, code), (available, amc, reorder, target) in sorted(sums.items())
    ]
