"""Expired lots are on hand but not available: in ``stock.level_changed`` (computed at every
movement, and re-published when a lot expires with no movement at all), in the stock views
(``/stock``, its CSV, ``/lots``) and in the safety-stock flag, against the real database and
broker."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    make_item,
    make_warehouse,
    receive,
    uniq,
)
from warehouse.domain.model import local_today
from warehouse.service_layer.expiry import expiry_levels_loop, run_level_refresh

pytestmark = pytest.mark.integration

TODAY = local_today()  # the branch's day (Asia/Shanghai), the one expiry is read against


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def stock_row(api: Api, wh: str, item: str) -> dict[str, Any]:
    page = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    (row,) = page["items"]
    return dict(row)


async def lots_by_no(api: Api, wh: str, item: str) -> dict[str, dict[str, Any]]:
    page = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    return {x["lot_no"]: x for x in page["items"]}


def figures(data: dict[str, Any]) -> tuple[int, int, int, int, bool]:
    return (
        data["on_hand"],
        data["reserved"],
        data["expired"],
        data["available"],
        data["below_safety_stock"],
    )


async def receive_with_expired_lot(api: Api, wh: str, item: str) -> None:
    """8 units already expired (accepted for write-off, with a reason) and 5 in date."""
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "lines": [{"item_code": item, "quantity": 8}, {"item_code": item, "quantity": 5}],
        },
    )
    await api.ok(
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        json={
            "lines": [
                {
                    "line_no": 1,
                    "received_quantity": 8,
                    "lot_no": "OLD",
                    "expiry_date": day(-1),
                    "expired_reason": "待报废",
                },
                {"line_no": 2, "received_quantity": 5, "lot_no": "NEW", "expiry_date": day(90)},
            ]
        },
    )


async def test_expired_units_are_on_hand_but_not_available(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True, safety=10)
    await receive_with_expired_lot(api, wh, item)

    (receipt,) = await warehouse_events.wait(
        "stock.level_changed.v1", warehouse_code=wh, item_code=item
    )
    assert figures(receipt.data) == (13, 0, 8, 5, True)  # 13 on hand would not be below 10

    row = await stock_row(api, wh, item)
    assert figures(row) == (13, 0, 8, 5, True)
    below = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": wh, "below_safety_stock": True}
    )
    assert [x["item_code"] for x in below["items"]] == [item]
    lots = await lots_by_no(api, wh, item)
    assert (lots["OLD"]["expired"], lots["OLD"]["available"], lots["OLD"]["on_hand"]) == (
        True,
        0,
        8,
    )
    assert (lots["NEW"]["expired"], lots["NEW"]["available"]) == (False, 5)
    response = await api.call(
        "GET", "/api/v1/stock/export.csv", "auditor", params={"warehouse_code": wh}
    )
    (line,) = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert (line["on_hand"], line["expired"], line["available"]) == ("13", "8", "5")
    assert list(line)[-1] == "expired"  # a new column goes last

    # changing the safety stock republishes the level with the same rule
    await api.ok(
        "POST",
        "/api/v1/safety-stocks",
        "warehouse",
        json={"warehouse_code": wh, "item_code": item, "safety_stock": 4},
    )
    _, lowered = await warehouse_events.wait(
        "stock.level_changed.v1", count=2, warehouse_code=wh, item_code=item
    )
    assert lowered.data["movement"] == "safety_stock"
    assert figures(lowered.data) == (13, 0, 8, 5, False)

    # writing the expired lot off leaves on hand and available equal again
    await api.ok(
        "POST",
        "/api/v1/stock-counts",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "lines": [{"lot_id": lots["OLD"]["id"], "counted_quantity": 0, "reason": "expired"}],
        },
    )
    *_, written_off = await warehouse_events.wait(
        "stock.level_changed.v1", count=3, warehouse_code=wh, item_code=item
    )
    assert written_off.data["movement"] == "adjustment"
    assert figures(written_off.data) == (5, 0, 0, 5, False)
    assert figures(await stock_row(api, wh, item)) == (5, 0, 0, 5, False)


async def expire_lot(app: FastAPI, wh: str, lot_no: str) -> None:
    """Let time pass for one lot: its expiry date becomes yesterday, with no stock movement."""
    async with app.state.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE lots SET expiry_date = :yesterday FROM warehouses w"
                " WHERE w.id = lots.warehouse_id AND w.code = :wh AND lots.lot_no = :lot_no"
            ),
            {"yesterday": TODAY - timedelta(days=1), "wh": wh, "lot_no": lot_no},
        )


async def test_a_level_is_republished_when_a_lot_expires_without_a_movement(
    api: Api, warehouse_events: EventLog, wh_app: FastAPI
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True, safety=10)
    await receive(
        api,
        wh,
        [
            {"item_code": item, "quantity": 8, "lot_no": "SOON", "expiry_date": day(30)},
            {"item_code": item, "quantity": 5, "lot_no": "LATER", "expiry_date": day(200)},
        ],
    )
    (receipt,) = await warehouse_events.wait(
        "stock.level_changed.v1", warehouse_code=wh, item_code=item
    )
    assert figures(receipt.data) == (13, 0, 0, 13, False)

    await expire_lot(wh_app, wh, "SOON")
    # the view is as of now even before the level is re-published
    assert figures(await stock_row(api, wh, item)) == (13, 0, 8, 5, True)

    # the background task (as the service runs it) re-publishes the level at start-up
    task = asyncio.create_task(expiry_levels_loop(wh_app.state.runtime))
    try:
        _, expired = await warehouse_events.wait(
            "stock.level_changed.v1", count=2, warehouse_code=wh, item_code=item
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert expired.data["movement"] == "expiry"
    assert expired.data["reference_id"] is None
    assert expired.data["version"] == receipt.data["version"] + 1
    assert figures(expired.data) == (13, 0, 8, 5, True)
    assert expired.key == f"{wh}/{item}"

    # idempotent: nothing left to re-publish, and no second event for this level
    assert await run_level_refresh(wh_app.state.runtime) == 0
    await asyncio.sleep(1)  # the relay would have published a second one by now
    levels = warehouse_events.of("stock.level_changed.v1", warehouse_code=wh, item_code=item)
    assert len(levels) == 2

    # the next movement carries the same figures forward
    await receive(
        api, wh, [{"item_code": item, "quantity": 6, "lot_no": "MORE", "expiry_date": day(60)}]
    )
    *_, more = await warehouse_events.wait(
        "stock.level_changed.v1", count=3, warehouse_code=wh, item_code=item
    )
    assert figures(more.data) == (19, 0, 8, 11, False)
