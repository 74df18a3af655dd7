"""The one way stock changes: lock the item's level, move a lot, write the card, publish.

Every movement of a lot goes through :class:`StockBook`:

* the ``stock_levels`` row of (warehouse, item) is locked ``FOR UPDATE`` first (always in a
  sorted order, so two operations never deadlock), which serialises all movements of one item
  in one warehouse: the running balance on the stock card is exact;
* the lot is changed with a conditional ``UPDATE ... WHERE on_hand + d >= 0 AND reserved + r
  BETWEEN 0 AND on_hand + d``, and the tables carry the same ``CHECK``s: stock never goes
  negative and nothing is reserved twice, whatever the concurrency;
* a ``stock_movements`` row (the stock card) records the change and the balance after it;
* :meth:`StockBook.publish_levels` writes each touched level once (quantities, the expired
  units as of today, and version) and publishes one ``stock.level_changed``
  per item and warehouse. Every user of the book calls it before committing.

Available stock is ``on_hand - reserved - expired`` (:func:`warehouse.domain.model.
available_stock`): ``expired`` is the unreserved units of lots past their expiry date
(:func:`expired_lot`, the SQL twin of :func:`warehouse.domain.model.is_expired`). Lots expire
with the passage of time too: ``warehouse.service_layer.expiry.refresh_expired_levels``
re-publishes a level when one of its lots crossed its expiry date since it was last written.

The level lock is the one contended lock under parallel dispatches (every pick and shipment
of an item waits for it), so the book spends as few round trips as it can while holding it:
one query locks a level and reads what its event needs (warehouse, item), a move is one
``UPDATE`` of the lot and one card row, and the level is written once, at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.warehouse import (
    STOCK_LEVEL_CHANGED,
    TOPIC,
    StockLevelChangedV1,
    level_key,
)
from shared.errors import Conflict, NotFound
from shared.ids import uuid7
from warehouse.adapters.orm import audit_log, items, lots, stock_levels, stock_movements, warehouses
from warehouse.domain.model import available_stock, local_today
from warehouse.service_layer import clock
from warehouse.service_layer.tx import Tx

Pair = tuple[uuid.UUID, uuid.UUID]  # (warehouse_id, item_id)


async def warehouse_by_code(session: AsyncSession, code: str) -> Row[Any]:
    row = (await session.execute(select(warehouses).where(warehouses.c.code == code))).first()
    if row is None:
        raise NotFound(f"仓库不存在：{code} (warehouse {code} not found)")
    return row


async def item_by_code(session: AsyncSession, code: str) -> Row[Any]:
    row = (await session.execute(select(items).where(items.c.code == code))).first()
    if row is None:
        raise NotFound(f"物资不存在：{code}，请先在物资目录中登记 (item {code} not found)")
    return row


async def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            detail=detail or {},
        )
    )


@dataclass
class Level:
    on_hand: int
    reserved: int
    place: Any = None  # warehouse code, name, town (for the event)
    item: Any = None  # item code, name, category, unit (for the event)
    movement: str = ""
    reference_id: uuid.UUID | None = None

    def touch(self, movement: str, reference_id: uuid.UUID | None = None) -> None:
        """Mark the level changed (published by :meth:`StockBook.publish_levels`)."""
        self.movement = movement
        self.reference_id = reference_id


@dataclass(frozen=True)
class _Place:
    code: str
    name: str
    town: str | None


@dataclass(frozen=True)
class _Item:
    code: str
    name: str
    category: str
    unit: str


class StockBook:
    """Collects the stock movements of one transaction (see the module docstring)."""

    def __init__(self, tx: Tx, *, actor: str, at: datetime) -> None:
        self.tx = tx
        self.session = tx.session
        self.actor = actor
        self.at = at
        # expired units are counted as of the day the transaction runs, not the day of ``at``
        # (a sign-off may be recorded with an earlier time): the figures are about now, the
        # clock's now (a seeded history runs at its own day)
        self.today = local_today(clock.now())
        self.levels: dict[Pair, Level] = {}

    async def lock(self, pairs: set[Pair]) -> None:
        """Lock the levels of ``pairs`` (creating missing ones), in a global order."""
        for warehouse_id, item_id in sorted(pairs - set(self.levels)):
            row = await self._lock_level(warehouse_id, item_id)
            if row is None:  # first movement of this item here: create the level, then lock
                await self.session.execute(
                    pg_insert(stock_levels)
                    .values(
                        warehouse_id=warehouse_id,
                        item_id=item_id,
                        on_hand=0,
                        reserved=0,
                        safety_stock=select(items.c.default_safety_stock)
                        .where(items.c.id == item_id)
                        .scalar_subquery(),
                        version=0,
                        updated_at=self.at,
                    )
                    .on_conflict_do_nothing(index_elements=["warehouse_id", "item_id"])
                )
                row = await self._lock_level(warehouse_id, item_id)
                if row is None:  # pragma: no cover - the insert above guarantees the row
                    raise RuntimeError("stock level vanished while locking it")
            self.levels[(warehouse_id, item_id)] = Level(
                row.on_hand,
                row.reserved,
                place=_Place(row.warehouse_code, row.warehouse_name, row.town),
                item=_Item(row.item_code, row.item_name, row.category, row.unit),
            )

    async def _lock_level(self, warehouse_id: uuid.UUID, item_id: uuid.UUID) -> Any:
        """The level's quantities and its warehouse and item, the level row locked; or None."""
        return (
            await self.session.execute(
                select(
                    stock_levels.c.on_hand,
                    stock_levels.c.reserved,
                    warehouses.c.code.label("warehouse_code"),
                    warehouses.c.name.label("warehouse_name"),
                    warehouses.c.town,
                    items.c.code.label("item_code"),
                    items.c.name.label("item_name"),
                    items.c.category,
                    items.c.unit,
                )
                .join(warehouses, warehouses.c.id == stock_levels.c.warehouse_id)
                .join(items, items.c.id == stock_levels.c.item_id)
                .where(
                    stock_levels.c.warehouse_id == warehouse_id,
                    stock_levels.c.item_id == item_id,
                )
                .with_for_update(of=stock_levels)
            )
        ).first()

    async def new_lot(self, **values: Any) -> uuid.UUID:
        lot_id = values.pop("id", None) or uuid7()
        await self.session.execute(
            insert(lots).values(id=lot_id, on_hand=0, reserved=0, created_at=self.at, **values)
        )
        return uuid.UUID(str(lot_id))

    async def move(
        self,
        *,
        lot_id: uuid.UUID,
        movement: str,
        on_hand_delta: int = 0,
        reserved_delta: int = 0,
        reference_type: str | None = None,
        reference_id: uuid.UUID | None = None,
        reference_no: str | None = None,
        note: str | None = None,
    ) -> Row[Any]:
        """Change one lot; returns the lot row after the change. Conflict if it would go wrong."""
        new_on_hand = lots.c.on_hand + on_hand_delta
        new_reserved = lots.c.reserved + reserved_delta
        lot = (
            await self.session.execute(
                update(lots)
                .where(
                    lots.c.id == lot_id,
                    new_on_hand >= 0,
                    new_reserved >= 0,
                    new_reserved <= new_on_hand,
                )
                .values(on_hand=new_on_hand, reserved=new_reserved)
                .returning(lots)
            )
        ).first()
        if lot is None:  # the WHERE refused: it would go negative or over-reserve
            raise Conflict(
                "库存不足或已被占用，操作未执行 (stock would go negative or be reserved twice)",
                details={"lot_id": str(lot_id)},
            )
        pair = (lot.warehouse_id, lot.item_id)
        if pair not in self.levels:
            raise RuntimeError("stock level not locked before moving a lot")  # programming error
        level = self.levels[pair]
        level.on_hand += on_hand_delta
        level.reserved += reserved_delta
        level.touch(movement, reference_id)
        await self.session.execute(
            insert(stock_movements).values(
                id=uuid7(),
                warehouse_id=pair[0],
                item_id=pair[1],
                lot_id=lot_id,
                movement=movement,
                on_hand_delta=on_hand_delta,
                reserved_delta=reserved_delta,
                on_hand_after=level.on_hand,
                reserved_after=level.reserved,
                reference_type=reference_type,
                reference_id=reference_id,
                reference_no=reference_no,
                note=note,
                actor=self.actor,
                at=self.at,
            )
        )
        moved: Row[Any] = lot
        return moved

    def touch(self, pair: Pair, movement: str) -> None:
        """Re-publish a locked level whose quantities did not move (e.g. a lot expired)."""
        self.levels[pair].touch(movement)

    async def publish_levels(self) -> None:
        """Write each changed level (quantities, expired units, version + 1); publish its event."""
        for (warehouse_id, item_id), level in sorted(self.levels.items(), key=lambda kv: kv[0]):
            if not level.movement:
                continue  # locked but unchanged
            row = (
                await self.session.execute(
                    update(stock_levels)
                    .where(
                        stock_levels.c.warehouse_id == warehouse_id,
                        stock_levels.c.item_id == item_id,
                    )
                    .values(
                        on_hand=level.on_hand,
                        reserved=level.reserved,
                        expired=expired_units_of(warehouse_id, item_id, self.today),
                        updated_at=self.at,
                        version=stock_levels.c.version + 1,
                    )
                    .returning(stock_levels)
                )
            ).one()
            await publish_level(
                self.tx, row, level.place, level.item, level.movement, level.reference_id, self.at
            )


async def publish_level(
    tx: Tx,
    level: Row[Any],
    place: Any,
    item: Any,
    movement: str,
    reference_id: uuid.UUID | None,
    at: datetime,
) -> None:
    """Publish a level row as written (``on_hand``, ``reserved``, ``expired``, ``version``)."""
    available = available_stock(level.on_hand, level.reserved, level.expired)
    key = level_key(place.code, item.code)
    tx.publish(
        topic=TOPIC,
        key=key,
        subject=key,
        type=STOCK_LEVEL_CHANGED,
        payload=StockLevelChangedV1(
            warehouse_code=place.code,
            warehouse_name=place.name,
            town=place.town,
            item_code=item.code,
            item_name=item.name,
            category=item.category,
            unit=item.unit,
            on_hand=level.on_hand,
            reserved=level.reserved,
            expired=level.expired,
            available=available,
            safety_stock=level.safety_stock,
            below_safety_stock=available < level.safety_stock,
            version=level.version,
            movement=movement,  # type: ignore[arg-type]
            reference_id=reference_id,
            changed_at=at,
        ),
    )


# --------------------------------------------------------------------------- expired units


def expired_lot(today: date) -> ColumnElement[bool]:
    """The lots past their expiry date on ``today``: the SQL twin of
    :func:`warehouse.domain.model.is_expired` (a lot without expiry date never expires)."""
    return lots.c.expiry_date < today


def expired_units_of(warehouse_id: Any, item_id: Any, today: date) -> Any:
    """A scalar subquery: the unreserved units in expired lots of one item in one warehouse
    (ids or correlated columns), as :func:`warehouse.domain.model.expired_units` counts them."""
    return (
        select(func.coalesce(func.sum(lots.c.on_hand - lots.c.reserved), 0))
        .where(
            lots.c.warehouse_id == warehouse_id,
            lots.c.item_id == item_id,
            lots.c.on_hand > 0,
            expired_lot(today),
        )
        .scalar_subquery()
    )


def expired_units_by_level(today: date) -> Any:
    """A subquery of (warehouse_id, item_id, expired) for every level with expired units."""
    return (
        select(
            lots.c.warehouse_id,
            lots.c.item_id,
            func.sum(lots.c.on_hand - lots.c.reserved).label("expired"),
        )
        .where(lots.c.on_hand > 0, expired_lot(today))
        .group_by(lots.c.warehouse_id, lots.c.item_id)
        .subquery("expired_units")
    )
