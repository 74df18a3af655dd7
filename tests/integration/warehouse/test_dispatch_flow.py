"""The dispatch flow over HTTP against the in-process service, real PostgreSQL and Kafka:
request → approve (not by the requester) → pick (FEFO, reserved) → ship → deliver (partial,
returns), reject/cancel releasing reservations, transfers landing as inbound; every step's
event read back from the topic, with lot → donation lineage and no private data."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.integration.warehouse.conftest import (
    Api,
    EventLog,
    dispatch_to,
    make_item,
    make_warehouse,
    receive,
)

pytestmark = pytest.mark.integration

TODAY = date.today()


async def stock_of(api: Api, warehouse: str, item: str) -> dict[str, int]:
    page = await api.ok(
        "GET", "/api/v1/stock", "auditor", params={"warehouse_code": warehouse, "item_code": item}
    )
    assert len(page["items"]) == 1
    row = page["items"][0]
    return {k: row[k] for k in ("on_hand", "reserved", "available", "safety_stock")}


async def test_full_flow_with_fefo_partial_delivery_and_events(
    api: Api, warehouse_events: EventLog
) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api, lot_tracked=True, safety=10)
    soon = TODAY + timedelta(days=3)  # inside the 7-day minimum: never picked
    early = TODAY + timedelta(days=40)
    late = TODAY + timedelta(days=400)
    await receive(
        api,
        wh,
        [
            {"item_code": item, "quantity": 5, "expiry_date": soon.isoformat(), "lot_no": "L-SOON"},
            {
                "item_code": item,
                "quantity": 10,
                "expiry_date": late.isoformat(),
                "lot_no": "L-LATE",
            },
            {
                "item_code": item,
                "quantity": 8,
                "expiry_date": early.isoformat(),
                "lot_no": "L-EARLY",
            },
        ],
    )
    assert await stock_of(api, wh, item) == {
        "on_hand": 23,
        "reserved": 0,
        "available": 23,
        "safety_stock": 10,
    }
    created = await dispatch_to(api, wh, [(item, 12)])
    did = created["id"]
    assert created["status"] == "requested"
    assert created["dispatch_no"].startswith("DP-")

    # the requester may not approve their own request, even holding the approver role
    own = await api.call(
        "POST",
        f"/api/v1/dispatches/{did}/approve",
        "dispatcher",
        headers=api.token("dispatcher", "dispatcher", "approver"),
    )
    assert own.status_code == 403, own.text
    # picking before approval is refused
    early_pick = await api.call("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    assert early_pick.status_code == 409
    approved = await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    assert approved["status"] == "approved"
    assert approved["approved_by"] == "approver"

    picked = await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    taken = [(a["lot_no"], a["quantity"]) for a in picked["allocations"]]
    assert taken == [("L-EARLY", 8), ("L-LATE", 4)]  # FEFO, skipping the lot expiring soon
    assert await stock_of(api, wh, item) == {
        "on_hand": 23,
        "reserved": 12,
        "available": 11,
        "safety_stock": 10,
    }
    shipped = await api.ok(
        "POST",
        f"/api/v1/dispatches/{did}/ship",
        "warehouse",
        json={"waybill_no": "SF100200300", "carrier": "顺丰速运"},
    )
    assert shipped["status"] == "shipped"
    assert await stock_of(api, wh, item) == {
        "on_hand": 11,
        "reserved": 0,
        "available": 11,
        "safety_stock": 10,
    }
    for when in ("2020-01-01T08:00:00+08:00", "2030-01-01T08:00:00", "2099-01-01T08:00:00Z"):
        refused = await api.call(
            "POST",
            f"/api/v1/dispatches/{did}/deliver",
            "dispatcher",
            json={"recipient_name": "李建华", "delivered_at": when},
        )
        assert refused.status_code == 422, (when, refused.text)  # before shipping, naive, future
    delivered = await api.ok(
        "POST",
        f"/api/v1/dispatches/{did}/deliver",
        "dispatcher",
        json={
            "recipient_name": "李建华",
            "recipient_phone": "13900001111",
            "recipient_org": "溪口镇人民政府",
            "returns": [{"item_code": item, "quantity": 2}],
        },
    )
    assert delivered["status"] == "delivered"
    assert delivered["recipient_name"] == "李建华"  # staff see it; the public never
    assert await stock_of(api, wh, item) == {
        "on_hand": 13,
        "reserved": 0,
        "available": 13,
        "safety_stock": 10,
    }

    for suffix in ("requested.v1", "approved.v1", "picked.v1", "shipped.v1", "delivered.v1"):
        (event,) = await warehouse_events.wait(f"dispatch.{suffix}", dispatch_id=did)
        assert event.key == did
        assert event.data["destination"]["town"] == "溪口镇"
        assert event.data["incident_code"] == "TY-TEST"
    (shipped_event,) = warehouse_events.of("dispatch.shipped.v1", dispatch_id=did)
    assert shipped_event.data["waybill_no"] == "SF100200300"
    line = shipped_event.data["lines"][0]
    assert line["quantity"] == 12
    assert [(x["lot_no"], x["quantity"]) for x in line["lots"]] == [("L-EARLY", 8), ("L-LATE", 4)]
    (done,) = warehouse_events.of("dispatch.delivered.v1", dispatch_id=did)
    assert done.data["recipient_name_masked"] == "李*华"
    assert done.data["partial"] is True
    assert done.data["lines"][0]["delivered_quantity"] == 10
    assert done.data["lines"][0]["returned_quantity"] == 2
    assert done.data["returned_to_warehouse_code"] == wh
    public = json.dumps([e.data for e in warehouse_events.events], ensure_ascii=False)
    assert "李建华" not in public
    assert "13900001111" not in public

    # a stock-level event after every movement, versions increasing, the last one current
    levels = await warehouse_events.wait(
        "stock.level_changed.v1", count=4, warehouse_code=wh, item_code=item
    )
    assert [e.data["movement"] for e in levels] == ["receipt", "reservation", "shipment", "return"]
    assert [e.data["on_hand"] for e in levels] == [23, 23, 11, 13]
    assert [e.data["reserved"] for e in levels] == [0, 12, 0, 0]
    versions = [e.data["version"] for e in levels]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    last = max(levels, key=lambda e: e.data["version"]).data
    assert (last["on_hand"], last["reserved"], last["available"]) == (13, 0, 13)
    assert last["below_safety_stock"] is False
    assert all(e.key == f"{wh}/{item}" for e in levels)


async def test_cancel_and_reject_release_reservations(api: Api, warehouse_events: EventLog) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    await receive(api, wh, [{"item_code": item, "quantity": 10}])
    first = (await dispatch_to(api, wh, [(item, 6)]))["id"]
    await api.ok("POST", f"/api/v1/dispatches/{first}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{first}/pick", "warehouse")
    assert (await stock_of(api, wh, item))["reserved"] == 6
    # a second dispatch cannot take the reserved units
    second = (await dispatch_to(api, wh, [(item, 6)]))["id"]
    await api.ok("POST", f"/api/v1/dispatches/{second}/approve", "approver")
    refused = await api.call("POST", f"/api/v1/dispatches/{second}/pick", "warehouse")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "insufficient_stock"
    cancelled = await api.ok(
        "POST", f"/api/v1/dispatches/{first}/cancel", "dispatcher", json={"reason": "台风转向"}
    )
    assert cancelled["status"] == "cancelled"
    assert await stock_of(api, wh, item) == {
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
        "safety_stock": 0,
    }
    (event,) = await warehouse_events.wait("dispatch.cancelled.v1", dispatch_id=first)
    assert event.data["released"][0]["quantity"] == 6
    # now the second one can pick (a retry with the same key is the same pick, not a new one);
    # then the approver withdraws it: reservation released
    first_try = await api.call(
        "POST", f"/api/v1/dispatches/{second}/pick", "warehouse", key=f"pick-{second}"
    )
    retry = await api.call(
        "POST", f"/api/v1/dispatches/{second}/pick", "warehouse", key=f"pick-{second}"
    )
    assert first_try.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first_try.json()
    assert (await stock_of(api, wh, item))["reserved"] == 6
    own_reject = await api.call(
        "POST",
        f"/api/v1/dispatches/{second}/reject",
        "dispatcher",
        headers=api.token("dispatcher", "dispatcher", "approver"),
        json={"reason": "x"},
    )
    assert own_reject.status_code == 403
    rejected = await api.ok(
        "POST", f"/api/v1/dispatches/{second}/reject", "approver2", json={"reason": "需求已满足"}
    )
    assert rejected["status"] == "rejected"
    assert (await stock_of(api, wh, item))["reserved"] == 0
    (event,) = await warehouse_events.wait("dispatch.rejected.v1", dispatch_id=second)
    assert event.data["reason"] == "需求已满足"
    assert event.data["released"][0]["quantity"] == 6
    # closed dispatches stay closed
    again = await api.call("POST", f"/api/v1/dispatches/{second}/pick", "warehouse")
    assert again.status_code == 409


async def test_transfer_lands_as_inbound_keeping_lineage(
    api: Api, warehouse_events: EventLog
) -> None:
    district = await make_warehouse(api)
    station = await make_warehouse(api, kind="station", town="大堰镇")
    item = await make_item(api)
    await receive(api, district, [{"item_code": item, "quantity": 20, "lot_no": "T-1"}])
    created = await dispatch_to(
        api, district, [(item, 7)], destination={"kind": "station", "warehouse_code": station}
    )
    did = created["id"]
    assert created["kind"] == "transfer"
    assert created["destination"]["town"] == "大堰镇"
    await api.ok("POST", f"/api/v1/dispatches/{did}/approve", "approver")
    await api.ok("POST", f"/api/v1/dispatches/{did}/pick", "warehouse")
    await api.ok(
        "POST", f"/api/v1/dispatches/{did}/ship", "warehouse", json={"waybill_no": "ZY-01"}
    )
    await api.ok(
        "POST",
        f"/api/v1/dispatches/{did}/deliver",
        "warehouse",
        json={"recipient_name": "王五", "returns": [{"item_code": item, "quantity": 1}]},
    )
    assert (await stock_of(api, district, item))["on_hand"] == 14
    assert (await stock_of(api, station, item))["on_hand"] == 6
    lots = await api.ok(
        "GET", "/api/v1/lots", "auditor", params={"warehouse_code": station, "item_code": item}
    )
    (lot,) = lots["items"]
    assert lot["source_kind"] == "transfer"
    assert lot["transfer_dispatch_id"] == did
    assert lot["lot_no"] == "T-1"
    received = await warehouse_events.wait("stock.received.v1", warehouse_code=station)
    assert received[0].data["source"] == {
        "source_kind": "transfer",
        "donation_id": None,
        "tracking_code": None,
        "procurement_order": None,
        "transfer_dispatch_id": did,
        "designated_project": None,
        "disbursement_id": None,
    }
    assert received[0].data["lots"][0]["quantity"] == 6
    inbounds = await api.ok(
        "GET", "/api/v1/inbounds", "auditor", params={"warehouse_code": station}
    )
    assert inbounds["items"][0]["source_kind"] == "transfer"
    transfer_in = await warehouse_events.wait(
        "stock.level_changed.v1", warehouse_code=station, item_code=item
    )
    assert transfer_in[-1].data["movement"] == "transfer_in"


async def test_bad_input_is_a_clear_4xx(api: Api) -> None:
    wh = await make_warehouse(api)
    item = await make_item(api)
    cases = [
        {
            "from_warehouse_code": wh,
            "destination": {"kind": "shelter", "name": "x", "town": "火星镇"},
            "lines": [{"item_code": item, "quantity": 1}],
        },
        {
            "from_warehouse_code": wh,
            "destination": {"kind": "shelter", "name": "x"},
            "lines": [{"item_code": item, "quantity": 0}],
        },
        {
            "from_warehouse_code": wh,
            "destination": {"kind": "shelter", "name": "x"},
            "lines": [{"item_code": "NOPE", "quantity": 1}],
        },
        {
            "from_warehouse_code": wh,
            "destination": {"kind": "warehouse", "warehouse_code": wh},
            "lines": [{"item_code": item, "quantity": 1}],
        },
        {
            "from_warehouse_code": wh,
            "destination": {"kind": "shelter", "name": "x"},
            "lines": [{"item_code": item, "quantity": 1}, {"item_code": item, "quantity": 2}],
        },
    ]
    for body in cases:
        response = await api.call("POST", "/api/v1/dispatches", "dispatcher", json=body)
        assert response.status_code in (404, 422), (body, response.text)
        assert "error" in response.json()
    # nothing was written by the refused requests
    listed = await api.ok(
        "GET", "/api/v1/dispatches", "auditor", params={"from_warehouse_code": wh}
    )
    assert listed["items"] == []
    anonymous = await api.client.get("/api/v1/stock")
    assert anonymous.status_code == 401
    forged = await api.client.get("/api/v1/stock", headers={"Authorization": "Bearer x.y.z"})
    assert forged.status_code == 401
    # roles: a warehouse keeper cannot request, an auditor cannot write
    body = {
        "from_warehouse_code": wh,
        "destination": {"kind": "site", "name": "x"},
        "lines": [{"item_code": item, "quantity": 1}],
    }
    assert (await api.call("POST", "/api/v1/dispatches", "warehouse", json=body)).status_code == 403
    assert (await api.call("POST", "/api/v1/items", "auditor", json={})).status_code in (403, 422)
