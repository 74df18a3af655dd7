"""Many parallel dispatches at one scarce lot, against the real PostgreSQL: stock never goes
negative, no unit is taken twice, and the totals add up exactly."""

from __future__ import annotations

import asyncio
import random

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

PARALLEL = 24


async def test_parallel_picks_never_over_allocate_one_scarce_lot(
    api: Api, wh_settings: WarehouseSettings
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    await receive(api, wh, [{"item_code": item, "quantity": 10, "lot_no": "SCARCE"}])
    rng = random.Random(7)
    wanted = [rng.randint(1, 4) for _ in range(PARALLEL)]
    ids = []
    for quantity in wanted:
        created = await dispatch_to(api, wh, [(item, quantity)])
        ids.append(created["id"])
    await asyncio.gather(
        *(api.ok("POST", f"/api/v1/dispatches/{d}/approve", "approver") for d in ids)
    )

    responses = await asyncio.gather(
        *(api.call("POST", f"/api/v1/dispatches/{d}/pick", "warehouse") for d in ids)
    )
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    won = [q for q, r in zip(wanted, responses, strict=True) if r.status_code == 200]
    lost = [r for r in responses if r.status_code == 409]
    assert won, "at least one dispatch must win"
    assert sum(won) <= 10
    # whoever lost, lost because there was not enough left for them (never a 500, never a race)
    assert all(r.json()["error"]["code"] in ("insufficient_stock", "conflict") for r in lost)
    assert 10 - sum(won) < max(wanted)  # the lot was used up as far as the requests allowed

    # and shipping all winners (also in parallel, with a duplicate ship of each) never goes below 0
    winners = [d for d, r in zip(ids, responses, strict=True) if r.status_code == 200]
    ships = await asyncio.gather(
        *(
            api.call(
                "POST", f"/api/v1/dispatches/{d}/ship", "warehouse", json={"waybill_no": f"W{n}"}
            )
            for n, d in enumerate(winners + winners)
        )
    )
    assert sorted(r.status_code for r in ships) == [200] * len(winners) + [409] * len(winners)

    engine = create_engine(wh_settings, application_name="tests-concurrency")
    try:
        async with engine.connect() as conn:
            lot = (
                await conn.execute(
                    text(
                        "SELECT l.on_hand, l.reserved, l.received_quantity FROM lots l"
                        " JOIN items i ON i.id = l.item_id WHERE i.code = :item"
                    ),
                    {"item": item},
                )
            ).one()
            allocated = await conn.scalar(
                text(
                    "SELECT COALESCE(SUM(a.quantity), 0) FROM dispatch_allocations a"
                    " JOIN items i ON i.id = a.item_id WHERE i.code = :item"
                ),
                {"item": item},
            )
            level = (
                await conn.execute(
                    text(
                        "SELECT s.on_hand, s.reserved FROM stock_levels s"
                        " JOIN items i ON i.id = s.item_id WHERE i.code = :item"
                    ),
                    {"item": item},
                )
            ).one()
            card = await conn.scalar(
                text(
                    "SELECT SUM(m.on_hand_delta) FROM stock_movements m"
                    " JOIN items i ON i.id = m.item_id WHERE i.code = :item"
                ),
                {"item": item},
            )
    finally:
        await engine.dispose()
    assert allocated == sum(won)
    assert (lot.on_hand, lot.reserved) == (10 - sum(won), 0)
    assert (level.on_hand, level.reserved) == (lot.on_hand, 0)
    assert card == lot.on_hand  # the stock card's movements add up to what is on the shelf


async def test_parallel_counts_and_picks_keep_reserved_within_on_hand(api: Api) -> None:
    """A stock count racing with picks can never leave reserved above on hand."""
    wh = await make_warehouse(api)
    item = await make_item(api)
    await receive(api, wh, [{"item_code": item, "quantity": 12, "lot_no": "RACE"}])
    lots = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    lot_id = lots["items"][0]["id"]
    ids = []
    for _ in range(6):
        ids.append((await dispatch_to(api, wh, [(item, 2)]))["id"])
        await api.ok("POST", f"/api/v1/dispatches/{ids[-1]}/approve", "approver")
    calls = [api.call("POST", f"/api/v1/dispatches/{d}/pick", "warehouse") for d in ids]
    calls.insert(
        3,
        api.call(
            "POST",
            "/api/v1/stock-counts",
            "warehouse",
            json={
                "warehouse_code": wh,
                "lines": [{"lot_id": lot_id, "counted_quantity": 5, "reason": "lost"}],
            },
        ),
    )
    responses = await asyncio.gather(*calls)
    assert all(r.status_code in (200, 201, 409) for r in responses), [r.text for r in responses]
    lot = (
        await api.ok(
            "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
        )
    )["items"][0]
    assert 0 <= lot["reserved"] <= lot["on_hand"]
    picked = sum(1 for r in responses if r.status_code == 200 and "dispatch_no" in r.json())
    assert lot["reserved"] == 2 * picked
