"""Migration 0002 on a database that already holds expected inbounds from 0001: they move
into ``inbounds`` and can be confirmed; a downgrade brings the still-expected ones back."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.conftest import DB_SUFFIX
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_0002_keeps_expected_inbounds_and_downgrades(wh_settings: WarehouseSettings) -> None:
    settings = wh_settings.model_copy(update={"db_name": f"warehouse_migr_test{DB_SUFFIX}"})
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
