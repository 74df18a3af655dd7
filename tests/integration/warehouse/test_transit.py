"""Transfers in transit and the receiving station's confirmation, through the API on the real
PostgreSQL: shipped transfers listed per destination with their age; the station confirms per
item what arrived, what was short and what was damaged (a reason required); short and damaged
units land nowhere and go back nowhere, each a discrepancy row per lot (latest expiry first,
valued at the lot's unit value) shown with the dispatch and in the list, csv/xlsx read back."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.integration.warehouse.conftest import Api, dispatch_to, make_item, make_warehouse
from tests.integration.warehouse.conftest import receive as inbound
from tests.integration.warehouse.plan_helpers import as_, station, transfer

pytestmark = pytest.mark.integration

TODAY = date.today()
DISCREPANCIES = "/api/v1/preparedness/transit-discrepancies"


async def stock(api: Api, warehouse: str, item: str) -> int:
    page = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": warehouse, "item_code": item}
    )
    return int(page["items"][0]["on_hand"]) if page["items"] else 0


async def shipped_transfer(api: Api) -> dict[str, Any]:
    source = await make_warehouse(api, kind="district", town=None)
    st = await station(api, "溪口镇")
    a, b = await make_item(api, lot_tracked=True), await make_item(api)
    await inbound(
        api,
        source,
        [
            {
                "item_code": a,
                "quantity": 6,
                "lot_no": "L-EARLY",
                "expiry_date": (TODAY + timedelta(days=100)).isoformat(),
            },
            {
                "item_code": a,
                "quantity": 10,
                "lot_no": "L-LATE",
                "expiry_date": (TODAY + timedelta(days=300)).isoformat(),
            },
            {"item_code": b, "quantity": 5},
        ],
    )
    moving = await transfer(api, source, st, [(a, 12), (b, 5)])
    assert moving["status"] == "shipped"
    return {"source": source, "station": st, "a": a, "b": b, "dispatch": moving}


async def test_receive_with_short_and_damaged(api: Api) -> None:
    s = await shipped_transfer(api)
    did, st, source, a, b = s["dispatch"]["id"], s["station"], s["source"], s["a"], s["b"]
    path = f"/api/v1/dispatches/{did}/receive"

    on_way = await api.ok(
        "GET", "/api/v1/preparedness/in-transit", "auditor", params={"to_warehouse_code": st}
    )
    (dest,) = on_way["destinations"]
    assert (dest["warehouse_code"], dest["town"], dest["units"]) == (st, "溪口镇", 17)
    (shipment,) = dest["dispatches"]
    assert (shipment["id"], shipment["age_days"], shipment["from_warehouse_code"]) == (
        did,
        0,
        source,
    )
    assert sorted((x["item_code"], x["quantity"]) for x in shipment["lines"]) == sorted(
        [(a, 12), (b, 5)]
    )

    xk = as_(api, "XK")  # the receiving station's keeper signs it off
    for body in (
        {"recipient_name": "王站长", "lines": [{"item_code": a, "received_quantity": 11}]},
        {
            "recipient_name": "王站长",
            "lines": [{"item_code": a, "received_quantity": 9, "short_quantity": 3}],
        },
        {"recipient_name": "王站长", "lines": [{"item_code": "NOT-ON-IT", "received_quantity": 1}]},
        {
            "recipient_name": "王站长",
            "lines": [
                {"item_code": a, "received_quantity": 12},
                {"item_code": a, "received_quantity": 12},
            ],
        },
    ):
        refused = await api.client.post(path, headers=xk, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert "(" in refused.json()["error"]["message"]
    assert (await api.ok("GET", f"/api/v1/dispatches/{did}", "auditor"))["status"] == "shipped"

    other_town = await api.client.post(path, headers=as_(api, "DY"), json={"recipient_name": "x"})
    assert other_town.status_code == 403

    done = await api.client.post(
        path,
        headers=xk | {"If-Match": f'"{s["dispatch"]["version"]}"'},
        json={
            "recipient_name": "王站长",
            "lines": [
                {
                    "item_code": a,
                    "received_quantity": 8,
                    "short_quantity": 3,
                    "damaged_quantity": 1,
                    "reason": "运输途中丢失3箱，1箱压坏",
                }
            ],
        },
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "delivered"
    # shipped L-EARLY 6 and L-LATE 6; the losses come off the latest expiry first
    found = sorted(
        (d["kind"], d["lot_no"], d["quantity"], d["value_fen"]) for d in body["discrepancies"]
    )
    assert found == [("damaged", "L-LATE", 1, 1000), ("short", "L-LATE", 3, 3000)]
    assert {d["reason"] for d in body["discrepancies"]} == {"运输途中丢失3箱，1箱压坏"}
    delivered = {
        (x["lot_no"], x["delivered_quantity"], x["returned_quantity"])
        for x in body["allocations"]
        if x["item_code"] == a
    }
    assert delivered == {("L-EARLY", 6, 0), ("L-LATE", 2, 0)}
    # the station holds what arrived (B in full); nothing went back to the source
    assert await stock(api, st, a) == 8
    assert await stock(api, st, b) == 5
    assert await stock(api, source, a) == 16 - 12
    detail = await api.ok("GET", f"/api/v1/dispatches/{did}", "auditor")
    assert len(detail["discrepancies"]) == 2
    gone = await api.ok(
        "GET", "/api/v1/preparedness/in-transit", "auditor", params={"to_warehouse_code": st}
    )
    assert gone["destinations"] == []

    listed = await api.ok("GET", DISCREPANCIES, "auditor", params={"to_warehouse_code": st})
    assert sorted((x["kind"], x["quantity"]) for x in listed["items"]) == [
        ("damaged", 1),
        ("short", 3),
    ]
    by_sender = await api.ok(
        "GET", DISCREPANCIES, "auditor", params={"from_warehouse_code": source}
    )
    assert {x["dispatch_id"] for x in by_sender["items"]} == {did}
    theirs = await api.client.get(
        DISCREPANCIES, headers=as_(api, "DY"), params={"to_warehouse_code": st}
    )
    assert theirs.status_code == 403

    exported = await api.call(
        "GET", DISCREPANCIES, "auditor", params={"to_warehouse_code": st, "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted((r[8], r[9], r[10]) for r in rows[1:]) == [
        ("damaged", "1", "1000"),
        ("short", "3", "3000"),
    ]
    xlsx = await api.call(
        "GET", DISCREPANCIES, "auditor", params={"to_warehouse_code": st, "format": "xlsx"}
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert sorted((r[8], r[9], r[10]) for r in cells[1:]) == [
        ("damaged", 1, 1000),
        ("short", 3, 3000),
    ]

    again = await api.client.post(path, headers=xk, json={"recipient_name": "王站长"})
    assert again.status_code == 409


async def test_receive_in_full_and_only_shipped_transfers(api: Api) -> None:
    s = await shipped_transfer(api)
    did, st, a = s["dispatch"]["id"], s["station"], s["a"]
    full = await api.ok(
        "POST", f"/api/v1/dispatches/{did}/receive", "warehouse", json={"recipient_name": "王站长"}
    )
    assert (full["status"], full["discrepancies"]) == ("delivered", [])
    assert await stock(api, st, a) == 12

    source = await make_warehouse(api, kind="district", town=None)
    item = await make_item(api)
    await inbound(api, source, [{"item_code": item, "quantity": 5}])
    plain = await dispatch_to(api, source, [(item, 1)])  # to a shelter, not a warehouse
    not_transfer = await api.call(
        "POST",
        f"/api/v1/dispatches/{plain['id']}/receive",
        "warehouse",
        json={"recipient_name": "x"},
    )
    assert not_transfer.status_code == 422, not_transfer.text
    unshipped = await transfer(api, source, st, [(item, 1)], until="picked")
    early = await api.call(
        "POST",
        f"/api/v1/dispatches/{unshipped['id']}/receive",
        "warehouse",
        json={"recipient_name": "x"},
    )
    assert early.status_code == 409, early.text
