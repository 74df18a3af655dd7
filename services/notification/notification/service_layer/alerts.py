"""Stock alerts from ``warehouse.events``.

State first, alerts second: the handlers keep the latest stock level per (warehouse, item)
(highest ``version`` wins) and the latest expiry facts per lot (newest observation wins), then
reconcile the alerts of that (warehouse, item) with what the state says. So a redelivered or
late event never reopens an alert the newer state cleared.

Per (kind, item, warehouse) at most one alert is unresolved (a partial unique index); it is
raised when the condition starts (staff are notified), updated while it holds, resolved when
it clears, and a new occurrence is raised if it returns. Alerts of one (warehouse, item) are
reconciled under a transaction-scoped advisory lock, as events about them arrive on
different partitions (levels by item, lots by lot, dispatches by dispatch).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.adapters.alert_tables import (
    ALERTS_CHANNEL,
    alerts,
    lot_quantities,
    lots,
    stock_levels,
)
from notification.config import NotificationSettings
from notification.domain.alerts import (
    ALERT_KINDS,
    EXPIRY_KINDS,
    STOCK_KINDS,
    AlertKind,
    AlertView,
    escalated_message,
    raised_message,
    stock_condition,
)
from notification.domain.commands import AcknowledgeAlert
from notification.metrics import ALERT_TRANSITIONS, ALERTS_OPEN
from notification.service_layer.notices import Routing, create_notice
from shared.contracts.warehouse import (
    DISPATCH_SHIPPED,
    LOT_EXPIRED,
    LOT_NEAR_EXPIRY,
    STOCK_ADJUSTED,
    STOCK_LEVEL_CHANGED,
    DispatchShippedV1,
    LotExpiryV1,
    StockAdjustedV1,
    StockLevelChangedV1,
)
from shared.errors import Conflict, NotFound
from shared.ids import uuid7
from shared.messaging.consumer import EventHandler
from shared.messaging.envelope import CloudEvent
from shared.uow import SqlUnitOfWork


@dataclass(frozen=True)
class Place:
    warehouse_code: str
    item_code: str
    warehouse_name: str
    item_name: str


async def wake_monitor(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": ALERTS_CHANNEL})


async def lock_place(session: AsyncSession, warehouse_code: str, item_code: str) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"alerts\n{warehouse_code}\n{item_code}"},
    )


def _view(row: Any) -> AlertView:
    return AlertView(
        kind=row.kind,
        warehouse_name=row.warehouse_name,
        item_name=row.item_name,
        details=dict(row.details),
        raised_at=row.raised_at,
        occurrence=row.occurrence,
        item_code=row.item_code,
        warehouse_code=row.warehouse_code,
    )


async def reconcile(
    session: AsyncSession,
    routing: Routing,
    *,
    kind: AlertKind,
    place: Place,
    holds: bool,
    details: dict[str, Any],
    event_id: str,
    at: datetime,
    resolution: str = "cleared",
) -> str | None:
    """Bring the (kind, place) alert in line with whether its condition holds."""
    key = (
        (alerts.c.kind == kind)
        & (alerts.c.item_code == place.item_code)
        & (alerts.c.warehouse_code == place.warehouse_code)
    )
    current = (
        await session.execute(
            select(alerts).where(key, alerts.c.resolved_at.is_(None)).with_for_update()
        )
    ).first()
    if holds and current is None:
        previous = (
            await session.execute(
                select(alerts.c.id, alerts.c.occurrence)
                .where(key)
                .order_by(alerts.c.raised_at.desc(), alerts.c.id.desc())
                .limit(1)
            )
        ).first()
        alert_id = uuid7()
        now = datetime.now(UTC)
        occurrence = int(previous.occurrence) + 1 if previous else 1
        values: dict[str, Any] = {
            "id": alert_id,
            "kind": kind,
            "warehouse_code": place.warehouse_code,
            "item_code": place.item_code,
            "warehouse_name": place.warehouse_name,
            "item_name": place.item_name,
            "status": "open",
            "details": details,
            "occurrence": occurrence,
            "previous_alert_id": previous.id if previous else None,
            "raised_at": at,
            "updated_at": now,
            "source_event_id": event_id,
        }
        await session.execute(insert(alerts).values(**values))
        subject, body = raised_message(
            AlertView(
                kind,
                place.warehouse_name,
                place.item_name,
                details,
                at,
                occurrence,
                item_code=place.item_code,
                warehouse_code=place.warehouse_code,
            )
        )
        await create_notice(
            session,
            key=f"alert:{alert_id}:raised",
            audience="staff",
            kind="alert_raised",
            subject=subject,
            body=body,
            addresses=routing.staff_addresses(
                escalation=False, warehouse_code=place.warehouse_code
            ),
            data=_notice_data(alert_id, kind, place, details, occurrence),
            alert_id=alert_id,
            source_event_id=event_id,
        )
        ALERT_TRANSITIONS.labels(kind, "raised").inc()
        await wake_monitor(session)
        return "raised"
    if holds and current is not None:
        if dict(current.details) != details:
            await session.execute(
                update(alerts)
                .where(alerts.c.id == current.id)
                .values(details=details, updated_at=datetime.now(UTC))
            )
            return "updated"
        return None
    if not holds and current is not None:
        await session.execute(
            update(alerts)
            .where(alerts.c.id == current.id)
            .values(
                status="resolved",
                resolved_at=max(at, current.raised_at),
                resolution=resolution,
                resolved_by_event_id=event_id,
                updated_at=datetime.now(UTC),
            )
        )
        ALERT_TRANSITIONS.labels(kind, "resolved").inc()
        await wake_monitor(session)
        return "resolved"
    return None


def _notice_data(
    alert_id: uuid.UUID, kind: str, place: Place, details: dict[str, Any], occurrence: int
) -> dict[str, Any]:
    return {
        "alert_id": str(alert_id),
        "alert_kind": kind,
        "warehouse_code": place.warehouse_code,
        "warehouse_name": place.warehouse_name,
        "item_code": place.item_code,
        "item_name": place.item_name,
        "occurrence": occurrence,
        "details": details,
    }


# --------------------------------------------------------------------------- stock levels


async def apply_stock_level(
    session: AsyncSession, routing: Routing, level: StockLevelChangedV1, event_id: str
) -> None:
    await lock_place(session, level.warehouse_code, level.item_code)
    known = (
        await session.execute(
            select(stock_levels.c.version, stock_levels.c.last_zero_at).where(
                stock_levels.c.warehouse_code == level.warehouse_code,
                stock_levels.c.item_code == level.item_code,
            )
        )
    ).first()
    place = Place(level.warehouse_code, level.item_code, level.warehouse_name, level.item_name)
    if known is not None and known.version >= level.version:
        # An older (or the same) level: the newer one decided the stock alerts. Still, if it
        # says nothing was on hand, no lot seen before then can be on hand.
        if level.on_hand == 0 and (known.last_zero_at or _EPOCH) < level.changed_at:
            await session.execute(
                update(stock_levels)
                .where(
                    stock_levels.c.warehouse_code == level.warehouse_code,
                    stock_levels.c.item_code == level.item_code,
                )
                .values(last_zero_at=level.changed_at)
            )
            await evaluate_expiry(session, routing, place, event_id, level.changed_at)
        return
    last_zero = known.last_zero_at if known is not None else None
    if level.on_hand == 0 and (last_zero or _EPOCH) < level.changed_at:
        last_zero = level.changed_at
    row = {
        "warehouse_code": level.warehouse_code,
        "item_code": level.item_code,
        "warehouse_name": level.warehouse_name,
        "item_name": level.item_name,
        "unit": level.unit,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "safety_stock": level.safety_stock,
        "version": level.version,
        "changed_at": level.changed_at,
        "last_zero_at": last_zero,
    }
    stmt = pg_insert(stock_levels).values(**row)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["warehouse_code", "item_code"],
            set_={k: stmt.excluded[k] for k in row if k not in ("warehouse_code", "item_code")},
        )
    )
    holding = stock_condition(level.available, level.safety_stock)
    details = {
        "unit": level.unit,
        "available": level.available,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "safety_stock": level.safety_stock,
        "version": level.version,
    }
    # Resolve the one that no longer holds before raising the other (low → out and back).
    for kind in sorted(STOCK_KINDS, key=lambda k: k == holding):
        await reconcile(
            session,
            routing,
            kind=kind,
            place=place,
            holds=kind == holding,
            details=details,
            event_id=event_id,
            at=level.changed_at,
            resolution="superseded" if holding is not None else "cleared",
        )
    if level.on_hand == 0:
        # Nothing of this item is left here: no lot of it seen before can be on hand.
        await evaluate_expiry(session, routing, place, event_id, level.changed_at)


# --------------------------------------------------------------------------- lot expiry

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LotOnHand:
    lot_id: uuid.UUID
    lot_no: str
    expiry_date: date
    state: str
    unit: str
    on_hand: int


async def quantities_on_hand(
    session: AsyncSession, place: Place, lot_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Per lot: the newest absolute count plus the changes after it, and nothing if the item
    had nothing on hand here after that count. Independent of the order facts arrived in."""
    if not lot_ids:
        return {}
    last_zero = (
        await session.execute(
            select(stock_levels.c.last_zero_at).where(
                stock_levels.c.warehouse_code == place.warehouse_code,
                stock_levels.c.item_code == place.item_code,
            )
        )
    ).scalar_one_or_none()
    facts: dict[uuid.UUID, list[Any]] = {lot_id: [] for lot_id in lot_ids}
    for fact in await session.execute(
        select(lot_quantities).where(lot_quantities.c.lot_id.in_(lot_ids))
    ):
        facts[fact.lot_id].append(fact)
    result: dict[uuid.UUID, int] = {}
    for lot_id, found in facts.items():
        counts = [f for f in found if f.kind == "set"]
        if not counts:
            result[lot_id] = 0
            continue
        base = max(counts, key=lambda f: (f.at, f.event_id))
        if last_zero is not None and last_zero > base.at:
            result[lot_id] = 0
            continue
        changes = sum(f.quantity for f in found if f.kind == "delta" and f.at > base.at)
        result[lot_id] = max(base.quantity + changes, 0)
    return result


async def record_quantity(
    session: AsyncSession, lot_id: uuid.UUID, event_id: str, at: datetime, kind: str, qty: int
) -> None:
    await session.execute(
        pg_insert(lot_quantities)
        .values(lot_id=lot_id, event_id=event_id, at=at, kind=kind, quantity=qty)
        .on_conflict_do_nothing(index_elements=["lot_id", "event_id"])
    )


async def evaluate_expiry(
    session: AsyncSession,
    routing: Routing,
    place: Place,
    event_id: str,
    at: datetime,
    *,
    lot_expired: bool = False,
) -> None:
    """Reconcile both expiry alerts of a place with its lots on hand. A near-expiry alert
    that ends because its lot expired is "superseded" (the expired alert takes over)."""
    known = (
        await session.execute(
            select(lots)
            .where(
                lots.c.warehouse_code == place.warehouse_code,
                lots.c.item_code == place.item_code,
            )
            .order_by(lots.c.expiry_date, lots.c.lot_no)
        )
    ).all()
    on_hand = await quantities_on_hand(session, place, [r.lot_id for r in known])
    rows = [
        LotOnHand(r.lot_id, r.lot_no, r.expiry_date, r.state, r.unit, on_hand[r.lot_id])
        for r in known
        if on_hand[r.lot_id] > 0
    ]
    for kind in EXPIRY_KINDS:
        mine = [r for r in rows if r.state == kind]
        details = {
            "unit": mine[0].unit if mine else "",
            "on_hand": sum(r.on_hand for r in mine),
            "lots": [
                {
                    "lot_id": str(r.lot_id),
                    "lot_no": r.lot_no,
                    "expiry_date": r.expiry_date.isoformat(),
                    "on_hand": r.on_hand,
                }
                for r in mine
            ],
        }
        await reconcile(
            session,
            routing,
            kind=kind,
            place=place,
            holds=bool(mine),
            details=details,
            event_id=event_id,
            at=at,
            resolution="superseded" if kind == "near_expiry" and lot_expired else "cleared",
        )


async def apply_lot_expiry(
    session: AsyncSession,
    routing: Routing,
    lot: LotExpiryV1,
    *,
    state: AlertKind,
    event_id: str,
    observed_at: datetime,
) -> None:
    await lock_place(session, lot.warehouse_code, lot.item_code)
    await record_quantity(session, lot.lot_id, event_id, observed_at, "set", lot.on_hand)
    known = (
        await session.execute(select(lots.c.observed_at).where(lots.c.lot_id == lot.lot_id))
    ).scalar_one_or_none()
    if known is None or known <= observed_at:  # the newest scan says near or expired
        row = {
            "lot_id": lot.lot_id,
            "lot_no": lot.lot_no,
            "warehouse_code": lot.warehouse_code,
            "warehouse_name": lot.warehouse_name,
            "item_code": lot.item_code,
            "item_name": lot.item_name,
            "unit": lot.unit,
            "expiry_date": lot.expiry_date,
            "state": state,
            "on_hand": lot.on_hand,
            "observed_at": observed_at,
        }
        stmt = pg_insert(lots).values(**row)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["lot_id"], set_={k: stmt.excluded[k] for k in row if k != "lot_id"}
            )
        )
    place = Place(lot.warehouse_code, lot.item_code, lot.warehouse_name, lot.item_name)
    await evaluate_expiry(
        session, routing, place, event_id, observed_at, lot_expired=state == "expired"
    )


async def _place_of_lots(session: AsyncSession, warehouse_code: str, item_code: str) -> Place:
    name = (
        await session.execute(
            select(lots.c.warehouse_name, lots.c.item_name)
            .where(lots.c.warehouse_code == warehouse_code, lots.c.item_code == item_code)
            .limit(1)
        )
    ).first()
    if name is None:
        return Place(warehouse_code, item_code, warehouse_code, item_code)
    return Place(warehouse_code, item_code, name.warehouse_name, name.item_name)


async def apply_adjustment(
    session: AsyncSession, routing: Routing, adj: StockAdjustedV1, event_id: str
) -> None:
    await lock_place(session, adj.warehouse_code, adj.item_code)
    await record_quantity(session, adj.lot_id, event_id, adj.adjusted_at, "set", adj.quantity_after)
    place = await _place_of_lots(session, adj.warehouse_code, adj.item_code)
    await evaluate_expiry(session, routing, place, event_id, adj.adjusted_at)


async def apply_shipment(
    session: AsyncSession, routing: Routing, shipped: DispatchShippedV1, event_id: str
) -> None:
    warehouse = shipped.from_warehouse_code
    for line in sorted(shipped.lines, key=lambda line: line.item_code):
        await lock_place(session, warehouse, line.item_code)
        for taken in line.lots:
            await record_quantity(
                session, taken.lot_id, event_id, shipped.shipped_at, "delta", -taken.quantity
            )
        place = await _place_of_lots(session, warehouse, line.item_code)
        await evaluate_expiry(session, routing, place, event_id, shipped.shipped_at)


def alert_handlers(settings: NotificationSettings) -> dict[str, EventHandler]:
    routing = Routing.from_settings(settings)

    async def on_level(session: AsyncSession, event: CloudEvent) -> None:
        level = StockLevelChangedV1.model_validate(event.data)
        await apply_stock_level(session, routing, level, event.id)

    async def on_near_expiry(session: AsyncSession, event: CloudEvent) -> None:
        lot = LotExpiryV1.model_validate(event.data)
        await apply_lot_expiry(
            session, routing, lot, state="near_expiry", event_id=event.id, observed_at=event.time
        )

    async def on_expired(session: AsyncSession, event: CloudEvent) -> None:
        lot = LotExpiryV1.model_validate(event.data)
        await apply_lot_expiry(
            session, routing, lot, state="expired", event_id=event.id, observed_at=event.time
        )

    async def on_adjusted(session: AsyncSession, event: CloudEvent) -> None:
        await apply_adjustment(
            session, routing, StockAdjustedV1.model_validate(event.data), event.id
        )

    async def on_shipped(session: AsyncSession, event: CloudEvent) -> None:
        shipped = DispatchShippedV1.model_validate(event.data)
        await apply_shipment(session, routing, shipped, event.id)

    return {
        STOCK_LEVEL_CHANGED: on_level,
        LOT_NEAR_EXPIRY: on_near_expiry,
        LOT_EXPIRED: on_expired,
        STOCK_ADJUSTED: on_adjusted,
        DISPATCH_SHIPPED: on_shipped,
    }


# --------------------------------------------------------------------------- staff actions


async def acknowledge(uow: SqlUnitOfWork, cmd: AcknowledgeAlert) -> None:
    """An open alert becomes acknowledged, with who took it on and their note (``404`` if
    there is no such alert, ``409`` if it is acknowledged or resolved already)."""
    session = uow.session
    row = (
        await session.execute(select(alerts).where(alerts.c.id == cmd.alert_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound(f"预警不存在 (alert {cmd.alert_id} not found)")
    if row.status == "resolved":
        raise Conflict("预警已自动解除，无需确认 (the alert is already resolved)")
    if row.status == "acknowledged":
        raise Conflict(
            f"预警已由 {row.acknowledged_by} 确认 (already acknowledged by {row.acknowledged_by})"
        )
    now = datetime.now(UTC)
    await session.execute(
        update(alerts)
        .where(alerts.c.id == cmd.alert_id)
        .values(
            status="acknowledged",
            acknowledged_at=now,
            acknowledged_by=cmd.actor,
            acknowledge_note=cmd.note,
            updated_at=now,
        )
    )
    ALERT_TRANSITIONS.labels(row.kind, "acknowledged").inc()
    await wake_monitor(session)


# --------------------------------------------------------------------------- background


async def escalate_due(
    session_factory: async_sessionmaker[AsyncSession],
    routing: Routing,
    *,
    after: timedelta,
    now: datetime | None = None,
    limit: int = 100,
) -> int:
    """Escalate alerts open (unacknowledged, unresolved) for longer than ``after``."""
    now = now or datetime.now(UTC)
    async with session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(alerts)
                .where(
                    alerts.c.status == "open",
                    alerts.c.escalated_at.is_(None),
                    alerts.c.raised_at <= now - after,
                )
                .order_by(alerts.c.raised_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            await session.execute(
                update(alerts).where(alerts.c.id == row.id).values(escalated_at=now, updated_at=now)
            )
            subject, body = escalated_message(_view(row), now)
            place = Place(row.warehouse_code, row.item_code, row.warehouse_name, row.item_name)
            await create_notice(
                session,
                key=f"alert:{row.id}:escalated",
                audience="staff",
                kind="alert_escalated",
                subject=subject,
                body=body,
                addresses=routing.staff_addresses(
                    escalation=True, warehouse_code=row.warehouse_code
                ),
                data=_notice_data(row.id, row.kind, place, dict(row.details), row.occurrence),
                alert_id=row.id,
            )
            ALERT_TRANSITIONS.labels(row.kind, "escalated").inc()
    return len(rows)


async def refresh_gauge(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Set the open-alerts gauge from the database (the truth, across restarts)."""
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(alerts.c.kind, alerts.c.status, func.count())
                .where(alerts.c.resolved_at.is_(None))
                .group_by(alerts.c.kind, alerts.c.status)
            )
        ).all()
    counts = {(kind, status): int(n) for kind, status, n in rows}
    for kind in ALERT_KINDS:
        for state in ("open", "acknowledged"):
            ALERTS_OPEN.labels(kind, state).set(counts.get((kind, state), 0))
    return {f"{k}:{s}": n for (k, s), n in counts.items()}
