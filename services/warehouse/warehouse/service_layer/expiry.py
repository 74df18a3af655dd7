"""The daily expiry scan: near-expiry and expired lots with stock on hand, once per lot per day.

Runs as a background task (daily at ``expiry_scan_hour`` Asia/Shanghai, and once at start-up)
and on demand (``POST /api/v1/expiry-scans``). Idempotent per scan date: the
``expiry_notices`` table remembers which lot was reported for which day.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.contracts.warehouse import (
    LOT_EXPIRED,
    LOT_NEAR_EXPIRY,
    TOPIC,
    LotExpiredV1,
    LotNearExpiryV1,
)
from shared.runtime import ServiceRuntime
from warehouse.adapters.orm import expiry_notices, items, lots, warehouses
from warehouse.domain.model import SHANGHAI, local_today
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
    now = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


async def daily_loop(runtime: ServiceRuntime) -> None:
    """Scan at start-up, then every day at the configured hour; never dies on an error."""
    hour = int(getattr(runtime.settings, "expiry_scan_hour", 6))
    while True:
        try:
            await run_scan(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expiry scan failed; retrying in a minute")
            await asyncio.sleep(60)
            continue
        await asyncio.sleep(seconds_until(hour))
