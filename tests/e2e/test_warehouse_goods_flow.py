"""A goods gift end to end with the three services running as processes:
POST at the donation service → ``donation.received`` → an expected inbound at the warehouse →
confirmed as lots tagged with the gift → dispatched (request, approval by another person,
FEFO pick, ship) → signed for; the lot → donation lineage rides on the warehouse's events and
the donation service's public timeline (by tracking code) shows the goods in stock,
dispatched to the town and signed for, with the signer masked."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e


def call(
    stack: Stack, method: str, path: str, tok: str, status: int = 200, **kw: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
    response = httpx.request(
        method, stack.url("warehouse") + path, headers=headers, timeout=15, **kw
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_goods_gift_arrives_as_lots_is_dispatched_and_signed_for(stack: Stack) -> None:
    finance, keeper = token(stack, "finance"), token(stack, "warehouse")
    dispatcher, approver = token(stack, "dispatcher"), token(stack, "approver")
    tag = uuid.uuid4().hex[:6].upper()
    wh, quilt, water = f"E2E-WH-{tag}", f"E2E-QUILT-{tag}", f"E2E-WATER-{tag}"
    call(
        stack,
        "POST",
        "/api/v1/warehouses",
        keeper,
        201,
        json={
            "code": wh,
            "name": "区备灾救灾中心仓库（测试）",
            "kind": "district",
            "town": "岳林街道",
        },
    )
    call(
        stack,
        "POST",
        "/api/v1/items",
        keeper,
        201,
        json={"code": quilt, "name": "棉被", "category": "clothing_bedding", "unit": "床"},
    )
    call(
        stack,
        "POST",
        "/api/v1/items",
        keeper,
        201,
        json={
            "code": water,
            "name": "饮用水",
            "category": "water",
            "unit": "箱",
            "lot_tracked": True,
        },
    )
    expiry = (date.today() + timedelta(days=300)).isoformat()
    gift_body = {
        "kind": "goods",
        "channel": "on_site",
        "display": "named",
        "donor": {"name": "莼湖街道爱心商户联盟", "donor_type": "organization"},
        "items": [
            {"item_code": quilt, "name": "棉被", "quantity": 40, "unit": "床", "value_fen": 480000},
            {
                "item_code": water,
                "name": "饮用水",
                "quantity": 100,
                "unit": "箱",
                "value_fen": 300000,
                "expiry_date": expiry,
                "lot_no": f"W-{tag}",
            },
        ],
    }
    created = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json=gift_body,
        headers={"Authorization": f"Bearer {finance}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=15,
    )
    assert created.status_code == 201, created.text
    gift = created.json()

    def expected() -> dict[str, Any] | None:
        page = call(stack, "GET", "/api/v1/inbounds", keeper, params={"donation_id": gift["id"]})
        return page["items"][0] if page["items"] else None

    inbound = wait_for(expected)
    assert isinstance(inbound, dict)
    assert inbound["status"] == "expected"
    assert inbound["tracking_code"] == gift["tracking_code"]
    receipt = call(
        stack,
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        keeper,
        json={
            "warehouse_code": wh,
            "lines": [
                {"line_no": 1, "received_quantity": 40},
                {
                    "line_no": 2,
                    "received_quantity": 100,
                    "damaged_quantity": 4,
                    "damage_reason": "外箱破损",
                },
            ],
        },
    )
    assert receipt["status"] == "received"
    lots = call(stack, "GET", "/api/v1/lots", keeper, params={"donation_id": gift["id"]})
    assert sorted((x["item_code"], x["on_hand"]) for x in lots["items"]) == sorted(
        [(quilt, 40), (water, 96)]
    )

    dispatch = call(
        stack,
        "POST",
        "/api/v1/dispatches",
        dispatcher,
        201,
        json={
            "from_warehouse_code": wh,
            "destination": {"kind": "shelter", "name": "莼湖街道避灾安置点", "town": "莼湖街道"},
            "incident_code": "TY-E2E",
            "incident_name": "台风（端到端测试）",
            "urgency": "critical",
            "lines": [{"item_code": quilt, "quantity": 30}, {"item_code": water, "quantity": 50}],
        },
    )
    path = f"/api/v1/dispatches/{dispatch['id']}"
    own = httpx.post(
        stack.url("warehouse") + path + "/approve",
        headers={"Authorization": f"Bearer {dispatcher}"},
        timeout=15,
    )
    assert own.status_code == 403
    call(stack, "POST", path + "/approve", approver)
    picked = call(stack, "POST", path + "/pick", keeper)
    assert {a["donation_id"] for a in picked["allocations"]} == {gift["id"]}
    assert {a["tracking_code"] for a in picked["allocations"]} == {gift["tracking_code"]}
    call(stack, "POST", path + "/ship", keeper, json={"waybill_no": f"E2E-{tag}"})
    delivered = call(
        stack,
        "POST",
        path + "/deliver",
        dispatcher,
        json={
            "recipient_name": "周明华",
            "recipient_phone": "13700002222",
            "recipient_org": "莼湖街道办事处",
            "returns": [{"item_code": water, "quantity": 2}],
        },
    )
    assert delivered["status"] == "delivered"
    carried = call(stack, "GET", "/api/v1/dispatches", keeper, params={"donation_id": gift["id"]})
    assert [d["id"] for d in carried["items"]] == [dispatch["id"]]
    stock = call(stack, "GET", "/api/v1/stock", keeper, params={"warehouse_code": wh})
    assert {(x["item_code"], x["on_hand"], x["reserved"]) for x in stock["items"]} == {
        (quilt, 10, 0),
        (water, 48, 0),
    }

    # the donation service's public timeline, built from the warehouse's events
    def timeline() -> list[dict[str, Any]] | None:
        response = httpx.get(
            stack.url("donation") + f"/api/v1/track/{gift['tracking_code']}", timeout=10
        )
        if response.status_code != 200:
            return None
        events = response.json().get("timeline", [])
        stages = {e["event"] for e in events}
        return events if {"in_stock", "dispatched", "signed"} <= stages else None

    events = wait_for(timeline, timeout=45, interval=2.5)  # the endpoint is rate limited
    assert isinstance(events, list)
    text = json.dumps(events, ensure_ascii=False)
    assert "莼湖街道" in text
    assert "周明华" not in text
    assert "13700002222" not in text
    assert "周*华" in text
