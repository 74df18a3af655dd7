"""Stock counts with reason codes, the stock card's running balance, safety stock and the
level events alerts read, the daily expiry scan, CSV exports, the audit log, optimistic
concurrency on updates and keyset pagination, against the real database and broker."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.integration.conftest import eventually
from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    make_item,
    make_warehouse,
    receive,
    uniq,
)
from warehouse.service_layer.expiry import daily_loop

pytestmark = pytest.mark.integration

TODAY = date.today()


async def lots_of(api: Api, wh: str, item: str) -> dict[str, dict[str, object]]:
    page = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    return {x["lot_no"]: x for x in page["items"]}


async def test_stock_count_adjustments_need_reasons_and_are_events(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True)
    expiry = (TODAY + timedelta(days=100)).isoformat()
    await receive(
        api,
        wh,
        [
            {"item_code": item, "quantity": 30, "lot_no": "C-1", "expiry_date": expiry},
            {"item_code": item, "quantity": 10, "lot_no": "C-2", "expiry_date": expiry},
        ],
    )
    lots = await lots_of(api, wh, item)
    one, two = lots["C-1"]["id"], lots["C-2"]["id"]
    bad = [
        [{"lot_id": one, "counted_quantity": 28}],  # no reason
        [{"lot_id": one, "counted_quantity": 28, "reason": "found"}],  # found cannot decrease
        [{"lot_id": one, "counted_quantity": 31, "reason": "lost"}],  # lost cannot increase
        [{"lot_id": one, "counted_quantity": 28, "reason": "stolen"}],  # unknown code
        [{"item_code": item, "counted_quantity": 3, "reason": "found"}],  # expiry mandatory
    ]
    for lines in bad:
        response = await api.call(
            "POST", "/api/v1/stock-counts", "warehouse", json={"warehouse_code": wh, "lines": lines}
        )
        assert response.status_code == 422, (lines, response.text)
    count = await api.ok(
        "POST",
        "/api/v1/stock-counts",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "note": "季度盘点",
            "lines": [
                {"lot_id": one, "counted_quantity": 27, "reason": "damaged", "note": "鼠咬"},
                {"lot_id": two, "counted_quantity": 10},  # no difference: no reason needed
                {
                    "item_code": item,
                    "counted_quantity": 4,
                    "reason": "found",
                    "lot_no": "C-FOUND",
                    "expiry_date": expiry,
                },
            ],
        },
    )
    deltas = sorted((a["lot_no"], a["reason"], a["delta"]) for a in count["adjustments"])
    assert deltas == [("C-1", "damaged", -3), ("C-FOUND", "found", 4)]
    lots = await lots_of(api, wh, item)
    assert lots["C-1"]["on_hand"] == 27
    assert lots["C-FOUND"]["source_kind"] == "count"

    events = await warehouse_events.wait("stock.adjusted.v1", count=2, stock_count_id=count["id"])
    by_lot = {e.data["lot_no"]: e.data for e in events}
    assert by_lot["C-1"]["quantity_before"] == 30
    assert by_lot["C-1"]["quantity_after"] == 27
    assert by_lot["C-1"]["delta"] == -3
    assert by_lot["C-1"]["reason"] == "damaged"
    assert by_lot["C-FOUND"]["delta"] == 4

    # the stock card: every movement with the running balance of the item in the warehouse
    card = await api.ok(
        "GET",
        "/api/v1/stock/movements",
        "auditor",
        params={"warehouse_code": wh, "item_code": item},
    )
    rows = [(m["movement"], m["lot_no"], m["on_hand_delta"], m["balance"]) for m in card["items"]]
    assert rows == [
        ("receipt", "C-1", 30, 30),
        ("receipt", "C-2", 10, 40),
        ("adjustment", "C-1", -3, 37),
        ("adjustment", "C-FOUND", 4, 41),
    ]
    listed = await api.ok("GET", "/api/v1/stock-counts", "auditor", params={"warehouse_code": wh})
    assert [c["id"] for c in listed["items"]] == [count["id"]]
    detail = await api.ok("GET", f"/api/v1/stock-counts/{count['id']}", "auditor")
    assert detail["adjustments"] == listed["items"][0]["adjustments"]
    assert {a["note"] for a in detail["adjustments"]} == {"鼠咬", None}
    same = await api.ok(
        "GET", "/api/v1/stock/card", "auditor", params={"warehouse_code": wh, "item_code": item}
    )
    assert same == card
    # a count can never go below what dispatches have reserved (checked in the concurrency test)
    audit = await api.ok(
        "GET",
        "/api/v1/audit-log",
        "auditor",
        params={"entity_type": "lot", "entity_id": one},
    )
    assert audit["items"][0]["action"] == "stock.adjust"
    assert audit["items"][0]["actor"] == "warehouse"
    assert audit["items"][0]["detail"]["reason"] == "damaged"
    denied = await api.call("GET", "/api/v1/audit-log", "dispatcher")
    assert denied.status_code == 403

    # CSV exports of stock and of movements
    response = await api.call(
        "GET", "/api/v1/stock/movements/export.csv", "auditor", params={"warehouse_code": wh}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["balance"] for r in table] == ["30", "40", "37", "41"]
    response = await api.call(
        "GET", "/api/v1/stock/export.csv", "auditor", params={"warehouse_code": wh}
    )
    (row,) = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert (row["item_code"], row["on_hand"], row["available"]) == (item, "41", "41")


async def test_safety_stock_and_level_events(api: Api, warehouse_events: EventLog) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, safety=5)
    await receive(api, wh, [{"item_code": item, "quantity": 8}])
    await api.ok(
        "POST",
        "/api/v1/safety-stocks",
        "warehouse",
        json={"warehouse_code": wh, "item_code": item, "safety_stock": 20},
    )
    events = await warehouse_events.wait(
        "stock.level_changed.v1", count=2, warehouse_code=wh, item_code=item
    )
    receipt, raised = events
    assert receipt.data["below_safety_stock"] is False
    assert receipt.data["safety_stock"] == 5
    assert raised.data["movement"] == "safety_stock"
    assert raised.data["below_safety_stock"] is True
    assert raised.data["version"] > receipt.data["version"]
    below = await api.ok(
        "GET",
        "/api/v1/stock",
        "auditor",
        params={"warehouse_code": wh, "below_safety_stock": "true"},
    )
    assert [x["item_code"] for x in below["items"]] == [item]


async def test_daily_expiry_scan_reports_each_lot_once_per_day(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True)
    scan_day = TODAY + timedelta(days=3650)  # far future: only this test's lots qualify
    near = scan_day + timedelta(days=10)
    gone = scan_day - timedelta(days=2)
    fine = scan_day + timedelta(days=200)
    await receive(
        api,
        wh,
        [
            {"item_code": item, "quantity": 4, "lot_no": "NEAR", "expiry_date": near.isoformat()},
            {"item_code": item, "quantity": 3, "lot_no": "GONE", "expiry_date": gone.isoformat()},
            {"item_code": item, "quantity": 9, "lot_no": "FINE", "expiry_date": fine.isoformat()},
        ],
    )
    first = await api.ok(
        "POST", "/api/v1/expiry-scans", "warehouse", params={"scan_date": scan_day.isoformat()}
    )
    assert first["near_expiry"] >= 1
    assert first["expired"] >= 1
    again = await api.ok(
        "POST", "/api/v1/expiry-scans", "warehouse", params={"scan_date": scan_day.isoformat()}
    )
    assert again == {"scan_date": scan_day.isoformat(), "near_expiry": 0, "expired": 0}
    (soon,) = await warehouse_events.wait("lot.near_expiry.v1", lot_no="NEAR", warehouse_code=wh)
    assert soon.data["days_to_expiry"] == 10
    assert soon.data["window_days"] == 30
    assert soon.data["on_hand"] == 4
    (expired,) = await warehouse_events.wait("lot.expired.v1", lot_no="GONE", warehouse_code=wh)
    assert expired.data["days_to_expiry"] == -2
    assert not warehouse_events.of("lot.near_expiry.v1", lot_no="FINE", warehouse_code=wh)
    # an expired lot (accepted with a reason) is never picked, nor one expiring too soon
    food = await make_item(api, lot_tracked=True)
    inbound = await api.ok(
        "POST",
        "/api/v1/inbounds",
        "warehouse",
        201,
        json={
            "warehouse_code": wh,
            "procurement_order": uniq("PO"),
            "lines": [{"item_code": food, "quantity": 5}, {"item_code": food, "quantity": 5}],
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
                    "received_quantity": 5,
                    "lot_no": "OLD",
                    "expiry_date": (TODAY - timedelta(days=1)).isoformat(),
                    "expired_reason": "演练用",
                },
                {
                    "line_no": 2,
                    "received_quantity": 5,
                    "lot_no": "NEW",
                    "expiry_date": (TODAY + timedelta(days=90)).isoformat(),
                },
            ]
        },
    )
    dispatch = await api.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": wh,
            "destination": {"kind": "site", "name": "测试点"},
            "lines": [{"item_code": food, "quantity": 6}],
        },
    )
    await api.ok("POST", f"/api/v1/dispatches/{dispatch['id']}/approve", "approver")
    refused = await api.call("POST", f"/api/v1/dispatches/{dispatch['id']}/pick", "warehouse")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["pickable"] == 5


async def test_updates_use_optimistic_concurrency(api: Api) -> None:
    item = await make_item(api)
    current = await api.ok("GET", f"/api/v1/items/{item}", "auditor")
    assert current["version"] == 1
    updated = await api.ok(
        "PATCH", f"/api/v1/items/{item}", "warehouse", json={"version": 1, "name": "棉被（加厚）"}
    )
    assert updated["version"] == 2
    stale = await api.call(
        "PATCH", f"/api/v1/items/{item}", "warehouse", json={"version": 1, "unit": "件"}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    wh = await make_warehouse(api)
    patched = await api.ok(
        "PATCH", f"/api/v1/warehouses/{wh}", "warehouse", json={"version": 1, "active": False}
    )
    assert patched["active"] is False
    # an inactive warehouse takes no dispatch
    refused = await api.call(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        json={
            "from_warehouse_code": wh,
            "destination": {"kind": "site", "name": "x"},
            "lines": [{"item_code": item, "quantity": 1}],
        },
    )
    assert refused.status_code == 409
    # dispatch transitions honour If-Match
    wh2 = await make_warehouse(api)
    created = await api.ok(
        "POST",
        "/api/v1/dispatches",
        "dispatcher",
        201,
        json={
            "from_warehouse_code": wh2,
            "destination": {"kind": "site", "name": "x"},
            "lines": [{"item_code": item, "quantity": 1}],
        },
    )
    mismatch = await api.call(
        "POST",
        f"/api/v1/dispatches/{created['id']}/approve",
        "approver",
        headers={"If-Match": str(created["version"] + 1)},
    )
    assert mismatch.status_code == 409
    match = await api.call(
        "POST",
        f"/api/v1/dispatches/{created['id']}/approve",
        "approver",
        headers={"If-Match": str(created["version"])},
    )
    assert match.status_code == 200


async def test_listings_filter_and_paginate(api: Api) -> None:
    town = "松岙镇"
    codes = {await make_warehouse(api, kind="station", town=town) for _ in range(3)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"town": town, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", "/api/v1/warehouses", "auditor", params=params)
        seen += [w["code"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert codes <= set(seen)
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    bad = await api.call("GET", "/api/v1/dispatches", "auditor", params={"cursor": "!!"})
    assert bad.status_code == 422
    station = await api.call(
        "POST",
        "/api/v1/warehouses",
        "warehouse",
        json={"code": uniq("ST"), "name": "x", "kind": "station"},
    )
    assert station.status_code == 422  # a station needs its town


async def test_the_background_job_scans_at_start_up(api: Api, wh_app: FastAPI) -> None:
    """The daily job (as the service runs it) reports today's near-expiry lots at start-up."""
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True)
    await receive(
        api,
        wh,
        [
            {
                "item_code": item,
                "quantity": 2,
                "lot_no": "BG",
                "expiry_date": (TODAY + timedelta(days=12)).isoformat(),
            }
        ],
    )
    runtime = wh_app.state.runtime
    task = asyncio.create_task(daily_loop(runtime))
    engine = runtime.engine

    async def scanned() -> bool:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT count(*) FROM expiry_notices n JOIN lots l ON l.id = n.lot_id"
                    " JOIN warehouses w ON w.id = l.warehouse_id"
                    " WHERE w.code = :wh AND n.kind = 'near_expiry'"
                ),
                {"wh": wh},
            )
        return bool(found)

    try:
        await eventually(scanned, timeout=20, interval=0.1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
