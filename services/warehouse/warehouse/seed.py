"""Demo data for ``make up``: the district warehouse and a station per town, a catalogue of
common relief items, a year of stock history (procurement, transfers to the stations, the
stations' monthly issues with the typhoon season's peak and a few stock-outs, a typhoon and a
flood tagged on their dispatches: warehouse/seed_history.py), then today's lots with a spread
of expiry dates (some near expiry, one expired, some items below safety stock).

Everything goes through the same handlers as the API, back-dated with ``clock.travel`` (so the
stock card, the audit log and the events are all there, each at its day). Idempotent: nothing
is seeded when the district warehouse exists.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import create_engine, create_session_factory
from shared.organisations import DISTRICT as FH
from shared.uow import SqlUnitOfWork
from warehouse.adapters.orm import warehouses
from warehouse.config import WarehouseSettings
from warehouse.domain.commands import (
    ConfirmInbound,
    ConfirmLine,
    CreateItem,
    CreateWarehouse,
    ExpectedLine,
    RegisterProcurement,
    SetSafetyStock,
)
from warehouse.domain.model import TOWNS
from warehouse.seed_history import YearOfStock
from warehouse.seed_preparedness import seed_preparedness
from warehouse.service_layer import catalogue, clock
from warehouse.service_layer.inbound import confirm_inbound, register_procurement

DISTRICT = "WH-DISTRICT"
ACTOR = "demo-seed"
TOWN_CODES = {
    "锦屏街道": "JP",
    "岳林街道": "YL",
    "江口街道": "JK",
    "西坞街道": "XW",
    "萧王庙街道": "XWM",
    "方桥街道": "FQ",
    "尚田街道": "ST",
    "莼湖街道": "CH",
    "溪口镇": "XK",
    "大堰镇": "DY",
    "松岙镇": "SA",
    "裘村镇": "QC",
}
# code, name, category, unit, lot/expiry mandatory, unit value (fen), district safety stock
CATALOGUE: list[tuple[str, str, str, str, bool, int, int]] = [
    ("QUILT", "棉被", "clothing_bedding", "床", False, 12000, 200),
    ("TENT", "救灾帐篷（12平方米）", "shelter", "顶", False, 180000, 30),
    ("COT", "折叠床", "shelter", "张", False, 15000, 100),
    ("WATER-550", "饮用水 550ml×24", "water", "箱", True, 3000, 300),
    ("NOODLES", "方便食品", "food", "箱", True, 4500, 150),
    ("BISCUIT", "压缩饼干", "food", "箱", True, 6000, 80),
    ("FIRSTAID", "急救包", "medical", "个", True, 8000, 100),
    ("RAINCOAT", "雨衣", "clothing_bedding", "件", False, 2500, 200),
    ("FLASHLIGHT", "手电筒", "lighting_power", "个", False, 3500, 150),
    ("GENERATOR", "发电机（5kW）", "lighting_power", "台", False, 450000, 5),
    ("LIFEJACKET", "救生衣", "shelter", "件", False, 9000, 100),
    ("HYGIENE-KIT", "家庭卫生包", "hygiene", "套", True, 5000, 100),
]


def _uow(factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings) -> SqlUnitOfWork:
    return SqlUnitOfWork(factory, source="/sunshine/warehouse", topic_prefix=settings.topic_prefix)


async def seed(settings: WarehouseSettings) -> None:
    engine = create_engine(settings, application_name="warehouse-seed")
    factory = create_session_factory(engine)
    try:
        async with factory() as session:
            done = await session.scalar(
                select(warehouses.c.id).where(warehouses.c.code == DISTRICT)
            )
        if done is not None:
            print("warehouse: demo data already present")
        else:
            started = time.monotonic()
            await _seed(factory, settings)
            print(
                "warehouse: seeded 13 warehouses, 12 items, a year of stock history and today's"
                f" lots ({time.monotonic() - started:.1f} s)"
            )
        await seed_preparedness(factory, settings)
    finally:
        await engine.dispose()


async def _seed(factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings) -> None:
    now = datetime.now(UTC)
    today = now.date()
    with clock.travel(now - timedelta(days=380)):
        await _catalogue(factory, settings)
    await YearOfStock(factory, settings, TOWN_CODES).run(today)
    with clock.travel(now - timedelta(days=40)):
        await _todays_lots(factory, settings, today)


async def _catalogue(
    factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings
) -> None:
    async with _uow(factory, settings) as uow:
        await catalogue.create_warehouse(
            uow,
            CreateWarehouse(
                code=DISTRICT,
                name="区备灾救灾中心仓库",
                kind="district",
                town="岳林街道",
                address="奉化区岳林街道（演示地址）",
                actor=ACTOR,
                actor_org=FH,
            ),
        )
        for town in TOWNS:
            await catalogue.create_warehouse(
                uow,
                CreateWarehouse(
                    code=f"ST-{TOWN_CODES[town]}",
                    name=f"{town}救灾物资储备点",
                    kind="station",
                    town=town,
                    address=f"{town}（演示地址）",
                    actor=ACTOR,
                    actor_org=FH,
                ),
            )
        for code, name, category, unit, tracked, value, _ in CATALOGUE:
            await catalogue.create_item(
                uow,
                CreateItem(
                    code=code,
                    name=name,
                    category=category,
                    unit=unit,
                    actor=ACTOR,
                    lot_tracked=tracked,
                    unit_value_fen=value,
                ),
            )
        await uow.commit()
    async with _uow(factory, settings) as uow:
        for code, *_, safety in CATALOGUE:
            await catalogue.set_safety_stock(
                uow, SetSafetyStock(DISTRICT, code, safety, ACTOR, actor_org=FH)
            )
        for town in ("溪口镇", "大堰镇", "莼湖街道"):
            for code in ("QUILT", "WATER-550", "RAINCOAT"):
                await catalogue.set_safety_stock(
                    uow, SetSafetyStock(f"ST-{TOWN_CODES[town]}", code, 20, ACTOR, actor_org=FH)
                )
        await uow.commit()


async def _todays_lots(
    factory: async_sessionmaker[AsyncSession], settings: WarehouseSettings, today: date
) -> None:
    """The district's stock after the year, received 40 days ago (after the last transfers):
    some near expiry, one expiring before today, some below safety stock."""

    def days(n: int) -> date:
        return today + timedelta(days=n)

    # district stock: (item, quantity, expiry or None, lot number)
    district: list[tuple[str, int, date | None, str]] = [
        ("QUILT", 420, None, "P2025-QUILT-01"),
        ("TENT", 45, None, "P2025-TENT-01"),
        ("COT", 160, None, "P2025-COT-01"),
        ("WATER-550", 120, days(18), "W2025-031"),  # near expiry
        ("WATER-550", 300, days(210), "W2026-007"),
        ("NOODLES", 60, days(25), "N2025-118"),  # near expiry
        ("NOODLES", 140, days(160), "N2026-021"),
        ("BISCUIT", 50, days(400), "B2026-003"),  # below safety stock (80)
        ("FIRSTAID", 130, days(540), "F2026-010"),
        ("RAINCOAT", 380, None, "P2025-RC-02"),
        ("FLASHLIGHT", 90, None, "P2025-FL-01"),  # below safety stock (150)
        ("GENERATOR", 2, None, "P2024-GEN-01"),  # below safety stock (5)
        ("LIFEJACKET", 140, None, "P2025-LJ-01"),
        ("HYGIENE-KIT", 120, days(300), "H2026-004"),
    ]
    await _receive(factory, settings, DISTRICT, "CG-2025-0911", district)
    await _receive(
        factory,
        settings,
        DISTRICT,
        "CG-2025-0301",
        [("NOODLES", 12, days(-5), "N2024-990")],  # expired since, kept for write-off
    )
    await _receive(
        factory,
        settings,
        "ST-XK",
        "CG-2025-0912",
        [
            ("QUILT", 30, None, "P2025-QUILT-XK"),
            ("WATER-550", 12, days(40), "W2025-XK"),  # below safety stock (20)
            ("RAINCOAT", 50, None, "P2025-RC-XK"),
        ],
    )


async def _receive(
    factory: async_sessionmaker[AsyncSession],
    settings: WarehouseSettings,
    warehouse_code: str,
    order: str,
    lots: list[tuple[str, int, date | None, str]],
    expired_reason: str | None = None,
) -> None:
    async with _uow(factory, settings) as uow:
        inbound_id = await register_procurement(
            uow,
            RegisterProcurement(
                warehouse_code=warehouse_code,
                procurement_order=order,
                lines=tuple(
                    ExpectedLine(code, qty, None, lot_no, expiry)
                    for code, qty, expiry, lot_no in lots
                ),
                actor=ACTOR,
                actor_org=FH,
                supplier="区应急管理局统一采购（演示）",
            ),
        )
        await confirm_inbound(
            uow,
            ConfirmInbound(
                inbound_id=inbound_id,
                warehouse_code=None,
                lines=tuple(
                    ConfirmLine(
                        line_no=n,
                        item_code=None,
                        received_quantity=qty,
                        lot_no=lot_no,
                        expiry_date=expiry,
                        expired_reason=expired_reason,
                    )
                    for n, (_, qty, expiry, lot_no) in enumerate(lots, start=1)
                ),
                actor=ACTOR,
                actor_org=FH,
                received_at=clock.now(),
            ),
        )
        await uow.commit()
