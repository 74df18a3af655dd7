"""Expiry as time passes: the daily scan of lots, and the levels whose lots just expired.

* The daily scan reports near-expiry and expired lots with stock on hand, once per lot per
  day. Runs as a background task (daily at ``expiry_scan_hour`` Asia/Shanghai, and once at
  start-up) and on demand (``POST /api/v1/expiry-scans``). Idempotent per scan date: the
  ``expiry_notices`` table remembers which lot was reported for which day.
* The expiry-levels task: a lot expires at midnight (Asia/Shanghai) without any movement, so
  the available stock of its item falls (``available = on_hand - reserved - expired``) while
  the last ``stock.level_changed`` still counts it. Just after every midnight, and once at
  start-up, :func:`refresh_expired_levels` re-publishes each level whose stored ``expired``
  differs from its lots (``movement = expiry``, version + 1), so stock alerts fire. Idempotent:
  a second run finds nothing to do. Cheap: one query over the levels and the expired lots
  (partial index ``lots_expiry``), then one locked write per level that changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.warehouse import (
    LOT_EXPIRED,
    LOT_NEAR_EXPIRY,
    TOPIC,
    LotExpiredV1,
    LotNearExpiryV1,
)
from shared.runtime import ServiceRuntime
from warehouse.adapters.orm import expiry_notices, items, lots, stock_levels, warehouses
from warehouse.domain.commands import RunExpiryScan
from warehouse.domain.model import SHANGHAI, local_today
from warehouse.service_layer import clock, scope
from warehouse.service_layer.stock import Pair, StockBook, audit, expired_units_by_level
from warehouse.service_layer.tx import Tx

log = logging.getLogger("sunshine.warehouse.expiry")


@dataclass(frozen=True)
class ScanResult:
    scan_date: date
    near_expiry: int
    expired: int


async def scan(tx: Tx, *, scan_date: date, window_days: int) -> ScanResult:
    horizon = scan_date + timedelta(days=window_days)
    rows = (
        await tx.session.execute(
            select(
                lots,
                items.c.code.label("item_code"),
                items.c.name.label("item_name"),
                items.c.unit,
                warehouses.c.code.label("warehouse_code"),
                warehouses.c.name.label("warehouse_name"),
            )
            .join(items, items.c.id == lots.c.item_id)
            .join(warehouses, warehouses.c.id == lots.c.warehouse_id)
            .where(
                lots.c.on_hand > 0, lots.c.expiry_date.is_not(None), lots.c.expiry_date <= horizon
            )
            .order_by(lots.c.expiry_date, lots.c.id)
        )
    ).all()
    near = expired = 0
    for row in rows:
        kind = "expired" if row.expiry_date < scan_date else "near_expiry"
        fresh = (
            await tx.session.execute(
                pg_insert(expiry_notices)
                .values(lot_id=row.id, scan_date=scan_date, kind=kind)
                .on_conflict_do_nothing()
                .returning(expiry_notices.c.lot_id)
            )
        ).first()
        if fresh is None:
            continue  # already reported today
        common = {
            "lot_id": row.id,
            "lot_no": row.lot_no,
            "item_code": row.item_code,
            "item_name": row.item_name,
            "unit": row.unit,
            "warehouse_code": row.warehouse_code,
            "warehouse_name": row.warehouse_name,
            "expiry_date": row.expiry_date,
            "days_to_expiry": (row.expiry_date - scan_date).days,
            "on_hand": row.on_hand,
            "available": row.on_hand - row.reserved,
            "scan_date": scan_date,
            "donation_id": row.donation_id,
            "tracking_code": row.tracking_code,
        }
        if kind == "expired":
            expired += 1
            tx.publish(
                topic=TOPIC,
                key=str(row.id),
                subject=str(row.id),
                type=LOT_EXPIRED,
                payload=LotExpiredV1(**common),
            )
        else:
            near += 1
            tx.publish(
                topic=TOPIC,
                key=str(row.id),
                subject=str(row.id),
                type=LOT_NEAR_EXPIRY,
                payload=LotNearExpiryV1(**common, window_days=window_days),
            )
    return ScanResult(scan_date, near, expired)


async def run_expiry_scan(tx: Tx, command: RunExpiryScan) -> ScanResult:
    """The scan run on demand by a staff member: :func:`scan`, and its audit-log entry. It
    covers every warehouse of the district, so only the district branch's staff run it."""
    scope.ensure_district(command.actor_org, "运行全区效期扫描", "run the district's expiry scan")
    result = await scan(tx, scan_date=command.scan_date, window_days=command.window_days)
    await audit(
        tx.session,
        actor=command.actor,
        action="expiry_scan.run",
        entity_type="expiry_scan",
        entity_id=command.scan_date.isoformat(),
        at=clock.now(),
        detail={"near_expiry": result.near_expiry, "expired": result.expired},
    )
    return result


async def run_scan(runtime: ServiceRuntime, *, scan_date: date | None = None) -> ScanResult:
    window = int(getattr(runtime.settings, "near_expiry_days", 30))
    async with runtime.unit_of_work() as uow:
        result = await scan(uow, scan_date=scan_date or local_today(), window_days=window)
        await uow.commit()
    log.info(
        "expiry scan",
        extra={"near_expiry": result.near_expiry, "expired": result.expired},
    )
    return result


def seconds_until(hour: int, now: datetime | None = None) -> float:
    now = (now or clock.now()).astimezone(SHANGHAI)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


async def every_day(
    job: Callable[[], Awaitable[object]], *, hour: int, what: str, margin_s: float = 0.0
) -> None:
    """Run ``job`` now, then every day at ``hour`` (Asia/Shanghai) plus ``margin_s`` seconds;
    a failure is logged and retried a minute later, never ends the loop."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in a minute", what)
            await asyncio.sleep(60)
            continue
        await asyncio.sleep(seconds_until(hour) + margin_s)


async def daily_loop(runtime: ServiceRuntime) -> None:
    """Scan at start-up, then every day at the configured hour; never dies on an error."""
    hour = int(getattr(runtime.settings, "expiry_scan_hour", 6))
    await every_day(lambda: run_scan(runtime), hour=hour, what="expiry scan")


# --------------------------------------------------------------------------- expiry of levels

EXPIRY_MOVEMENT = "expiry"
SYSTEM_ACTOR = "system:expiry"
# Lots expire at midnight; wake a few seconds after it, so "today" is surely the new day.
MIDNIGHT_MARGIN_S = 5.0


async def stale_levels(
    session: AsyncSession, today: date, among: Sequence[Pair] = ()
) -> list[Pair]:
    """The levels whose stored ``expired`` is not what their lots hold on ``today``."""
    current = expired_units_by_level(today)
    query = (
        select(stock_levels.c.warehouse_id, stock_levels.c.item_id)
        .outerjoin(
            current,
            and_(
                current.c.warehouse_id == stock_levels.c.warehouse_id,
                current.c.item_id == stock_levels.c.item_id,
            ),
        )
        .where(stock_levels.c.expired != func.coalesce(current.c.expired, 0))
        .order_by(stock_levels.c.warehouse_id, stock_levels.c.item_id)
    )
    if among:
        query = query.where(
            tuple_(stock_levels.c.warehouse_id, stock_levels.c.item_id).in_(list(among))
        )
    return [(row.warehouse_id, row.item_id) for row in (await session.execute(query)).all()]


async def refresh_expired_levels(tx: Tx, *, at: datetime) -> int:
    """Re-publish every level whose lots crossed their expiry date since it was last written;
    returns how many. The candidates are found without locks, then locked (in the global order
    every stock movement uses) and checked again: a movement that got there first has already
    published the new figures."""
    book = StockBook(tx, actor=SYSTEM_ACTOR, at=at)
    today = book.today
    candidates = await stale_levels(tx.session, today)
    if not candidates:
        return 0
    await book.lock(set(candidates))
    changed = await stale_levels(tx.session, today, among=candidates)
    for pair in changed:
        book.touch(pair, EXPIRY_MOVEMENT)
    await book.publish_levels()
    return len(changed)


async def run_level_refresh(runtime: ServiceRuntime) -> int:
    async with runtime.unit_of_work() as uow:
        count = await refresh_expired_levels(uow, at=clock.now())
        await uow.commit()
    if count:
        log.info("levels re-published after lots expired", extra={"levels": count})
    return count


async def expiry_levels_loop(runtime: ServiceRuntime) -> None:
    """Refresh at start-up, then just after every midnight (Asia/Shanghai)."""
    await every_day(
        lambda: run_level_refresh(runtime),
        hour=0,
        what="expiry-levels refresh",
        margin_s=MIDNIGHT_MARGIN_S,
    )
