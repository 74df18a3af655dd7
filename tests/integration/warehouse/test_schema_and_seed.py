"""The warehouse database on its own, fresh: migration 0002 carries expected inbounds from 0001
over (and a downgrade brings the still-expected ones back); then ``python -m warehouse seed``:
the district warehouse and a station per town, the catalogue, a year of back-dated history
(transfers to the stations, their seasonal monthly issues, a typhoon and a flood tagged on their
dispatches, stock-outs), lots with near-expiry, expired and below-safety-stock cases, next
summer's season plan; a second run changes nothing. (One database for both: creating databases
is the slow part.)"""

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
                        "SELECT incident_code, status, recipient_name, destination_kind,"
                        " requested_at < now() - interval '7 days' AS past FROM dispatches"
                    )
                )
            ).all()
            assert all(r.status == "delivered" and r.recipient_name and r.past for r in rows)
            incidents = {r.incident_code for r in rows} - {None}
            assert len(incidents) == 2  # a typhoon and a flood
            assert {code.split("-")[0] for code in incidents} == {"TY", "FL"}
            # a year of history: transfers to the stations and their monthly issues
            assert len(rows) >= 150
            assert sum(r.destination_kind == "station" for r in rows) >= 40
            months = await one(
                "SELECT count(DISTINCT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai'))"
                " FROM stock_movements WHERE movement = 'shipment'"
            )
            assert months >= 12
            assert await one(
                "SELECT min(at) < now() - interval '330 days' FROM stock_movements"
                " WHERE movement = 'shipment'"
            )
            # the typhoon season issues more than the winter
            by_month: dict[int, int] = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT extract(month FROM at AT TIME ZONE 'Asia/Shanghai')::int,"
                            " -sum(on_hand_delta) FROM stock_movements m JOIN warehouses w"
                            " ON w.id = m.warehouse_id WHERE movement = 'shipment'"
                            " AND w.kind = 'station' GROUP BY 1"
                        )
                    )
                ).all()
            )
            assert by_month[8] > 2 * by_month[2]
            # a few stations are out of some items today; others hold stock
            out = await one(
                "SELECT count(*) FROM stock_levels s JOIN warehouses w ON w.id = s.warehouse_id"
                " WHERE w.kind = 'station' AND s.on_hand = 0"
            )
            held = await one(
                "SELECT count(*) FROM stock_levels s JOIN warehouses w ON w.id = s.warehouse_id"
                " WHERE w.kind = 'station' AND s.on_hand > 0"
            )
            assert out >= 3
            assert held >= 40
            # the movements are the domain's: every shipment's time is its dispatch's ship time
            assert not await one(
                "SELECT count(*) FROM stock_movements m JOIN dispatches d ON d.id ="
                " m.reference_id WHERE m.movement = 'shipment' AND m.at <> d.shipped_at"
            )
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
            # next summer's season plan: active, people in every town, norms, one entered target
            plan = (
                await conn.execute(
                    text(
                        "SELECT p.status, p.season_start, w.code AS source,"
                        " (SELECT count(*) FROM plan_towns t WHERE t.plan_id = p.id) AS towns,"
                        " (SELECT count(*) FROM plan_norms n WHERE n.plan_id = p.id) AS norms,"
                        " (SELECT count(*) FROM plan_targets g WHERE g.plan_id = p.id) AS targets"
                        " FROM preparedness_plans p JOIN warehouses w ON w.id ="
                        " p.source_warehouse_id"
                    )
                )
            ).one()
            assert plan.status == "active"
            assert plan.source == "WH-DISTRICT"
            assert plan.season_start.month == 6
            assert (plan.towns, plan.targets) == (12, 1)
            assert plan.norms >= 5
            # two stations' requisitions wait for the district
            waiting = (
                await conn.execute(
                    text(
                        "SELECT w.code, r.requested_by FROM requisitions r JOIN warehouses w"
                        " ON w.id = r.warehouse_id WHERE r.status = 'requested' ORDER BY w.code"
                    )
                )
            ).all()
            assert [tuple(r) for r in waiting] == [("ST-DY", "keeper-dy"), ("ST-XK", "keeper-xk")]
    finally:
        await engine.dispose()
