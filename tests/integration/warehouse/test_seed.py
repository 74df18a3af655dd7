"""``python -m warehouse seed`` on a fresh database of its own: the district warehouse and a
station per town, the catalogue, lots with near-expiry/expired/below-safety-stock cases, past
dispatches for a typhoon and a flood with sign-offs; and a second run changes nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from shared.db import create_engine
from shared.migrations import upgrade
from tests.conftest import DB_SUFFIX
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS
from warehouse.seed import seed

pytestmark = pytest.mark.integration


async def test_seed_is_plausible_and_idempotent(wh_settings: WarehouseSettings) -> None:
    settings = wh_settings.model_copy(update={"db_name": f"warehouse_seed_test{DB_SUFFIX}"})
    admin = await asyncpg.connect(settings.asyncpg_dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{settings.db_name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade, settings, MIGRATIONS)
    await seed(settings)
    await seed(settings)  # idempotent

    engine = create_engine(settings, application_name="tests-seed")
    try:
        async with engine.connect() as conn:

            async def one(sql: str) -> int:
                return int(await conn.scalar(text(sql)) or 0)

            assert await one("SELECT count(*) FROM warehouses") == 13
            assert (
                await one("SELECT count(DISTINCT town) FROM warehouses WHERE kind='station'") == 12
            )
            names = set((await conn.execute(text("SELECT name FROM items"))).scalars().all())
            for wanted in ("棉被", "折叠床", "雨衣", "手电筒", "急救包", "方便食品"):
                assert wanted in names
            assert (
                await one(
                    "SELECT count(*) FROM lots WHERE on_hand > 0 AND expiry_date < current_date"
                )
                >= 1
            )
            assert (
                await one(
                    "SELECT count(*) FROM lots WHERE on_hand > 0"
                    " AND expiry_date BETWEEN current_date AND current_date + 30"
                )
                >= 2
            )
            assert (
                await one(
                    "SELECT count(*) FROM stock_levels WHERE on_hand - reserved < safety_stock"
                )
                >= 3
            )
            rows = (
                await conn.execute(
                    text(
                        "SELECT incident_code, status, recipient_name, requested_at < now() - "
                        "interval '30 days' AS past FROM dispatches ORDER BY requested_at"
                    )
                )
            ).all()
            assert {r.incident_code for r in rows} == {"TY-2025-DEMO", "FL-2025-DEMO"}
            assert all(r.status == "delivered" and r.recipient_name and r.past for r in rows)
            assert (
                await one("SELECT count(*) FROM dispatch_allocations WHERE returned_quantity > 0")
                >= 1
            )
            # the stock card adds up and nothing is negative
            bad = await one(
                "SELECT count(*) FROM stock_levels s WHERE s.on_hand <> (SELECT COALESCE(SUM("
                "on_hand_delta), 0) FROM stock_movements m WHERE m.warehouse_id = s.warehouse_id"
                " AND m.item_id = s.item_id)"
            )
            assert bad == 0
            assert await one("SELECT count(*) FROM outbox") > 0
    finally:
        await engine.dispose()
