"""Demo data for the preparedness page: next summer's season plan (people to serve per town ×
a norm per person, one target entered directly), active, drawing on the district warehouse;
and two requisitions (请领) from town stations waiting for the district's decision.

Through the same service functions as the API. Idempotent on its own (a database seeded before
these existed gets them on the next ``seed``): the plan when its code is missing, the
requisitions when no requisition exists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.organisations import DISTRICT as FH
from shared.uow import SqlUnitOfWork
from warehouse.adapters.orm import preparedness_plans, requisitions
from warehouse.config import WarehouseSettings
from warehouse.seed_history import TOWN_WEIGHT
from warehouse.service_layer import clock, plans
from warehouse.service_layer.requisitions import create_requisition

PLANNER = "dispatcher"
# quantity per person served, per item
NORMS: dict[str, str] = {
    "QUILT": "0.020",
    "WATER-550": "0.050",
    "NOODLES": "0.030",
    "RAINCOAT": "0.020",
    "FLASHLIGHT": "0.010",
    "FIRSTAID": "0.005",
}
PEOPLE_PER_WEIGHT = 2000
ENTERED = ("松岙镇", "LIFEJACKET", 60)  # a coastal town's life jackets, entered directly
# two stations ask the district, by their keepers' demo accounts (station, the keeper's
# branch, lines, reason, urgency): 大堰镇 ran out, 溪口镇's water is near expiry
REQUISITIONS: list[tuple[str, str, list[tuple[str, int]], str, str]] = [
    (
        "ST-DY",
        "DY",
        [("WATER-550", 40), ("NOODLES", 25), ("QUILT", 20)],
        "储备点饮用水、方便食品和棉被已用完，请区里调拨（演示）",
        "urgent",
    ),
    (
        "ST-XK",
        "XK",
        [("WATER-550", 30), ("RAINCOAT", 40)],
        "饮用水临期、雨衣不足（演示）",
        "normal",
    ),
]


def plan_code(today: date) -> str:
    return f"FX-{next_summer(today).year}"


def next_summer(today: date) -> date:
    """The first day of the coming typhoon season (June 1st; next year's once June is past)."""
    year = today.year if today.month < 6 else today.year + 1
    return date(year, 6, 1)


async def seed_preparedness(
    factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings
) -> None:
    now = datetime.now(UTC)
    code = plan_code(now.date())
    async with factory() as session:
        exists = await session.scalar(
            select(preparedness_plans.c.id).where(preparedness_plans.c.code == code)
        )
    if exists is None:
        with clock.travel(now - timedelta(days=7)):
            await _season_plan(factory, settings, code, next_summer(now.date()))
        print(f"warehouse: seeded the season plan {code}")
    async with factory() as session:
        raised = await session.scalar(select(requisitions.c.id).limit(1))
    if raised is None:
        with clock.travel(now - timedelta(days=2)):
            await _requisitions(factory, settings, code)
        print(f"warehouse: seeded {len(REQUISITIONS)} requisitions awaiting a decision")


def _uow(factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings) -> SqlUnitOfWork:
    return SqlUnitOfWork(factory, source="/sunshine/warehouse", topic_prefix=settings.topic_prefix)


async def _season_plan(
    factory: async_sessionmaker[AsyncSession],
    settings: WarehouseSettings,
    code: str,
    start: date,
) -> None:
    who = {"actor": PLANNER, "actor_org": FH}
    async with _uow(factory, settings) as uow:
        await plans.create_plan(
            uow,
            code=code,
            name=f"{start.year}年汛期备灾计划（演示）",
            season_start=start,
            season_end=date(start.year, 9, 30),
            source_warehouse_code="WH-DISTRICT",
            note="台风季前按保障人数预置物资（演示）",
            **who,
        )
        for town, weight in TOWN_WEIGHT.items():
            await plans.set_town(
                uow, code, town, round(weight * PEOPLE_PER_WEIGHT), expected=None, **who
            )
        for item, per_person in NORMS.items():
            await plans.set_norm(uow, code, item, Decimal(per_person), expected=None, **who)
        town, item, quantity = ENTERED
        await plans.set_target(uow, code, town, item, quantity, expected=None, **who)
        await plans.update_plan(uow, code, {"action": "activate"}, expected=None, **who)
        await uow.commit()


async def _requisitions(
    factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings, code: str
) -> None:
    async with _uow(factory, settings) as uow:
        for n, (station, org, lines, reason, urgency) in enumerate(REQUISITIONS):
            with clock.travel(clock.now() + timedelta(hours=3 * n)):
                await create_requisition(
                    uow,
                    warehouse_code=station,
                    lines=lines,
                    reason=reason,
                    urgency=urgency,
                    plan_code=code,
                    actor=f"keeper-{org.lower()}",
                    actor_org=org,
                )
        await uow.commit()
