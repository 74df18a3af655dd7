"""A random mix of receipts, counts, dispatches (picked, shipped, delivered with returns,
cancelled, rejected) and transfers, partly in parallel, against the real database; afterwards
the books agree everywhere: each level equals the sum of its lots and of its stock-card
movements, reserved stock equals what open picked dispatches hold, nothing is negative."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import create_engine
from tests.integration.warehouse.conftest import (
    Api,
    dispatch_to,
    make_item,
    make_warehouse,
    receive,
)
from warehouse.config import WarehouseSettings

pytestmark = pytest.mark.integration


async def _advance(api: Api, rng: random.Random, dispatch_id: str, item: str) -> None:
    path = f"/api/v1/dispatches/{dispatch_id}"
    fate = rng.random()
    if fate < 0.1:
        await api.call("POST", path + "/reject", "approver", json={"reason": "不需要"})
        return
    if (await api.call("POST", path + "/approve", "approver")).status_code != 200:
        return
    if (await api.call("POST", path + "/pick", "warehouse")).status_code != 200:
        await api.call("POST", path + "/cancel", "dispatcher", json={"reason": "库存不足"})
        return
    if fate < 0.3:
        await api.call("POST", path + "/cancel", "dispatcher", json={"reason": "取消"})
        return
    await api.call("POST", path + "/ship", "warehouse", json={"waybill_no": "R"})
    if fate < 0.45:
        return  # still on the road
    returns = [{"item_code": item, "quantity": 1}] if fate < 0.6 else []
    await api.call(
        "POST", path + "/deliver", "dispatcher", json={"recipient_name": "赵四", "returns": returns}
    )


async def test_random_operations_keep_the_books_consistent(
    api: Api, wh_settings: WarehouseSettings
) -> None:
    rng = random.Random(20261129)
    district = await make_warehouse(api)
    station = await make_warehouse(api, kind="station", town="裘村镇")
    items = [await make_item(api) for _ in range(3)]
    for item in items:
        await receive(
            api,
            district,
            [{"item_code": item, "quantity": rng.randint(5, 15)} for _ in range(2)],
        )
    for _round in range(3):
        jobs: list[Awaitable[Any]] = []
        for _ in range(5):
            item = rng.choice(items)
            destination = (
                {"kind": "station", "warehouse_code": station}
                if rng.random() < 0.3
                else {"kind": "site", "name": "随机点", "town": "裘村镇"}
            )
            created = await dispatch_to(
                api, district, [(item, rng.randint(1, 6))], destination=destination
            )
            jobs.append(_advance(api, rng, created["id"], item))
        lots = await api.ok(
            "GET", "/api/v1/lots", "auditor", params={"warehouse_code": district, "limit": 100}
        )
        if lots["items"]:
            lot = rng.choice(lots["items"])
            counted = max(lot["reserved"], lot["on_hand"] + rng.choice([-2, -1, 1, 2]))
            reason = "found" if counted > lot["on_hand"] else "lost"
            jobs.append(
                api.call(
                    "POST",
                    "/api/v1/stock-counts",
                    "warehouse",
                    json={
                        "warehouse_code": district,
                        "lines": [
                            {"lot_id": lot["id"], "counted_quantity": counted, "reason": reason}
                        ],
                    },
                )
            )
        await asyncio.gather(*jobs)

    engine = create_engine(wh_settings, application_name="tests-invariants")
    try:
        async with engine.connect() as conn:
            mismatches = (
                await conn.execute(
                    text(
                        """
                        SELECT w.code, i.code, s.on_hand, s.reserved,
                          (SELECT COALESCE(SUM(on_hand), 0) FROM lots l
                            WHERE l.warehouse_id = s.warehouse_id
                              AND l.item_id = s.item_id) AS lots_on_hand,
                          (SELECT COALESCE(SUM(reserved), 0) FROM lots l
                            WHERE l.warehouse_id = s.warehouse_id
                              AND l.item_id = s.item_id) AS lots_reserved,
                          (SELECT COALESCE(SUM(on_hand_delta), 0) FROM stock_movements m
                            WHERE m.warehouse_id = s.warehouse_id
                              AND m.item_id = s.item_id) AS card,
                          (SELECT COALESCE(SUM(a.quantity), 0) FROM dispatch_allocations a
                            JOIN dispatches d ON d.id = a.dispatch_id AND d.status = 'picked'
                            JOIN lots l ON l.id = a.lot_id
                            WHERE l.warehouse_id = s.warehouse_id AND a.item_id = s.item_id) AS held
                        FROM stock_levels s
                        JOIN warehouses w ON w.id = s.warehouse_id
                        JOIN items i ON i.id = s.item_id
                        WHERE w.code IN (:a, :b)
                        """
                    ),
                    {"a": district, "b": station},
                )
            ).all()
            statuses: dict[str, int] = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT status, count(*) FROM dispatches d JOIN warehouses w"
                            " ON w.id = d.from_warehouse_id WHERE w.code = :a GROUP BY status"
                        ),
                        {"a": district},
                    )
                ).all()
            )
            negative = await conn.scalar(
                text("SELECT count(*) FROM lots WHERE on_hand < 0 OR reserved > on_hand")
            )
    finally:
        await engine.dispose()
    assert mismatches
    for row in mismatches:
        _, _, on_hand, reserved, lots_on_hand, lots_reserved, card, held = row
        assert on_hand == lots_on_hand == card, row
        assert reserved == lots_reserved == held, row
    assert negative == 0
    assert len(statuses) >= 3, statuses  # the mix really exercised several paths
