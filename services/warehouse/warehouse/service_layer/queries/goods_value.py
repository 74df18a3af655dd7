"""Reading the goods value report (物资价值): the movements the warehouse keeps, valued and
folded by :mod:`warehouse.domain.valuation`.

Two records say what happened, both written by the stock's one way of changing
(``warehouse.service_layer.stock.StockBook``) and never edited:

- the stock card (``stock_movements``): every change of a lot's on hand — receipt, transfer in,
  shipment, return at the sign-off, count adjustment — with its time; valued at the lot's
  ``unit_value_fen``, classed by the lot's source (donation, procurement, transfer);
- the sign-off of each delivered dispatch (``dispatch_allocations``, per lot): the units signed
  for (to recipients, or landed at another warehouse) and, for a transfer, those short or
  damaged on the way (shipped − delivered − returned), at the dispatch's ``delivered_at``.

Both are summed in SQL per warehouse, category, flow and phase (before the period, or within
it), so the report reads a few rows per warehouse and category whatever the history's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.organisations import org_name
from warehouse.adapters.orm import (
    dispatch_allocations,
    dispatches,
    items,
    lots,
    organisations,
    stock_movements,
    warehouses,
)
from warehouse.domain.model import DELIVERED
from warehouse.domain.valuation import (
    Figures,
    Flow,
    Key,
    Movement,
    Period,
    Totals,
    flow_of_card,
    flow_of_sign_off,
    totals_of,
    value_goods,
)
from warehouse.service_layer.scope import within

# the stock-card movements that change on hand (reservation and release change none)
CARD_MOVEMENTS = ("receipt", "transfer_in", "shipment", "return", "adjustment")


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    org_code: str
    org_name: str


@dataclass(frozen=True)
class GoodsValue:
    period: Period
    rows: dict[Key, Figures]
    totals: Totals
    places: dict[str, Place]


def _phase(at: Any, start: datetime) -> Any:
    """'before' the period or 'within' it (a time at or after its end is not read)."""
    return case((at < start, literal("before")), else_=literal("within")).label("phase")


def _grouped(inner: Any, *keys: str) -> Any:
    """``inner``'s rows summed per ``keys`` and phase (the phase is a column of ``inner``, so
    the grouping names it rather than repeating its expression and its parameters)."""
    columns = [inner.c[k] for k in (*keys, "phase")]
    sums = [func.sum(c).label(c.name) for c in inner.c if c.name not in (*keys, "phase", "at")]
    return select(*columns, *sums, func.max(inner.c.at).label("at")).group_by(*columns)


def _fen(quantity: Any) -> Any:
    return cast(quantity, BigInteger) * lots.c.unit_value_fen


async def _card_movements(
    session: AsyncSession, period: Period, scope: str | None
) -> list[Movement]:
    m = stock_movements
    units = func.abs(m.c.on_hand_delta)
    inner = (
        select(
            warehouses.c.code,
            items.c.category,
            m.c.movement,
            lots.c.source_kind,
            case((m.c.on_hand_delta > 0, 1), else_=-1).label("sign"),
            _phase(m.c.at, period.start),
            m.c.at,
            units.label("quantity"),
            _fen(units).label("value_fen"),
        )
        .join(warehouses, warehouses.c.id == m.c.warehouse_id)
        .join(items, items.c.id == m.c.item_id)
        .join(lots, lots.c.id == m.c.lot_id)
        .where(
            m.c.on_hand_delta != 0,
            m.c.movement.in_(CARD_MOVEMENTS),
            m.c.at < period.end,
        )
    )
    card = within(inner, scope, warehouses.c.org_code).subquery("card")
    rows = await session.execute(
        _grouped(card, "code", "category", "movement", "source_kind", "sign")
    )
    return [
        Movement(
            r.code,
            r.category,
            flow_of_card(r.movement, r.source_kind, r.sign),
            int(r.quantity),
            int(r.value_fen),
            r.at,
        )
        for r in rows
    ]


async def _sign_offs(session: AsyncSession, period: Period, scope: str | None) -> list[Movement]:
    a, d = dispatch_allocations, dispatches
    delivered = func.coalesce(a.c.delivered_quantity, 0)
    lost = a.c.quantity - delivered - func.coalesce(a.c.returned_quantity, 0)
    inner = (
        select(
            warehouses.c.code,
            items.c.category,
            d.c.kind,
            _phase(d.c.delivered_at, period.start),
            d.c.delivered_at.label("at"),
            delivered.label("delivered"),
            _fen(delivered).label("delivered_fen"),
            lost.label("lost"),
            _fen(lost).label("lost_fen"),
        )
        .select_from(a)
        .join(d, d.c.id == a.c.dispatch_id)
        .join(warehouses, warehouses.c.id == d.c.from_warehouse_id)
        .join(items, items.c.id == a.c.item_id)
        .join(lots, lots.c.id == a.c.lot_id)
        .where(
            d.c.status == DELIVERED,
            d.c.delivered_at.is_not(None),
            d.c.delivered_at < period.end,
        )
    )
    signed = within(inner, scope, warehouses.c.org_code).subquery("signed")
    movements: list[Movement] = []
    for r in await session.execute(_grouped(signed, "code", "category", "kind")):
        if r.delivered:
            movements.append(
                Movement(
                    r.code,
                    r.category,
                    flow_of_sign_off(r.kind),
                    int(r.delivered),
                    int(r.delivered_fen),
                    r.at,
                )
            )
        if r.lost:
            movements.append(
                Movement(
                    r.code, r.category, Flow.LOST_IN_TRANSIT, int(r.lost), int(r.lost_fen), r.at
                )
            )
    return movements


async def _places(session: AsyncSession, codes: set[str]) -> dict[str, Place]:
    rows = await session.execute(
        select(
            warehouses.c.code,
            warehouses.c.name,
            warehouses.c.org_code,
            organisations.c.name.label("org_name"),
        )
        .outerjoin(organisations, organisations.c.code == warehouses.c.org_code)
        .where(warehouses.c.code.in_(codes))
    )
    return {
        r.code: Place(r.code, r.name, r.org_code, r.org_name or org_name(r.org_code)) for r in rows
    }


async def goods_value(session: AsyncSession, period: Period, *, scope: str | None) -> GoodsValue:
    """The report of ``period`` over the warehouses a reader limited to ``scope`` sees, all
    read in one snapshot (a sign-off between two reads would unbalance the books): ``session``
    must not have run a query yet in its transaction."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    movements = await _card_movements(session, period, scope)
    movements += await _sign_offs(session, period, scope)
    rows = value_goods(movements, period)
    places = await _places(session, {warehouse for warehouse, _ in rows})
    return GoodsValue(period, rows, totals_of(rows), places)
