"""The warehouse database on its own, fresh: migration 0002 carries expected inbounds from 0001
over (and a downgrade brings the still-expected ones back); then ``python -m warehouse seed``:
the district warehouse and a station per town, the catalogue, lots with near-expiry, expired
and below-safety-stock cases, past dispatches for a typhoon and a flood with sign-offs; a
second run changes nothing. (One database for both: creating databases is the slow part.)"""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from sqlalchemy import text

from shared.db import create_engine
from shared.migrations import downgrade, upgrade
from tests.conftest import DB_SUFFIX
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS
from warehouse.seed import seed

pytestmark = pytest.mark.integration


async def test_migrations_then_seed(wh_settings: WarehouseSettings) -> None:
    settings = wh_settings.model_copy(update={"db_name": f"warehouse_fresh_test{DB_SUFFIX}"})
    admin = await asyncpg.connect(settings.asyncpg_dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{settings.db_name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade, settings, MIGRATIONS, "0001")
    donation_id = uuid.uuid4()
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        await conn.execute(
            "INSERT INTO expected_inbounds VALUES ($1, $2, 'ABCD', '张某', $3::jsonb, 'expected',"
            " now())",
            uuid.uuid4(),
            donation_id,
            json.dumps([{"item_code": "QUILT", "quantity": 2}]),
        )
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, settings, MIGRATIONS, "head")
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT status, source_kind, tracking_code FROM inbounds WHERE donation_id = $1",
            donation_id,
        )
        assert tuple(row) == ("expected", "donation", "ABCD")
    finally:
        await conn.close()
    await asyncio.to_thread(downgrade, settings, MIGRATIONS, "0001")
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM expected_inbounds WHERE donation_id = $1", donation_id
        )
        assert count == 1
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, settings, MIGRATIONS, "head")

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
