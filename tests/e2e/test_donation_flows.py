"""The donor's view end to end, with the three services running as processes:

* a money gift → receipted → disbursed (entered by finance, approved by a second person) →
  its receipt number and its exact use visible on the public tracking endpoint;
* a goods gift → expected inbound at the warehouse → confirmed into stock → dispatched
  (approved, picked, shipped) → signed for → the gift completed, each step on the tracking
  endpoint (the donation service consumes the warehouse's events).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e


def auth(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


_tokens: dict[str, str] = {}


def staff(stack: Stack, who: str) -> str:
    if who not in _tokens:
        _tokens[who] = token(stack, who)
    return _tokens[who]


def post(
    stack: Stack, service: str, path: str, who: str, body: Any = None, status: int = 200
) -> Any:
    response = httpx.post(
        stack.url(service) + path, json=body, headers=auth(staff(stack, who)), timeout=15
    )
    assert response.status_code == status, response.text
    return response.json()


def track(stack: Stack, code: str) -> dict[str, Any]:
    response = httpx.get(stack.url("donation") + f"/api/v1/track/{code}", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_money_gift_receipted_disbursed_and_tracked(stack: Stack) -> None:
    stamp = str(int(time.time() * 1000))[-8:]
    project = post(
        stack,
        "donation",
        "/api/v1/projects",
        "finance",
        {
            "code": f"E2E-SWJ-{stamp}",
            "name": "博爱送万家（端到端）",
            "category": "song_wan_jia",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
        },
        201,
    )
    gift = post(
        stack,
        "donation",
        "/api/v1/donations",
        "finance",
        {
            "amount_fen": 66_600,
            "channel": "bank_transfer",
            "external_ref": f"E2E-{stamp}",
            "project_code": project["code"],
            "display": "named",
            "donor": {"name": "欧阳明远", "phone": "13811112222"},
        },
        201,
    )
    receipt = post(stack, "donation", f"/api/v1/donations/{gift['id']}/receipt", "finance", {}, 201)
    disbursement = post(
        stack,
        "donation",
        f"/api/v1/projects/{project['code']}/disbursements",
        "finance",
        {
            "amount_fen": 50_000,
            "purpose": "春节走访慰问困难老人",
            "recipient_type": "person",
            "recipient_name": "陈阿婆",
            "town": "大堰镇",
            "voucher_no": f"FH-E2E-{stamp}",
            "disbursed_on": "2026-11-25",
        },
        201,
    )
    approved = post(
        stack, "donation", f"/api/v1/disbursements/{disbursement['id']}/approve", "approver"
    )
    assert approved["allocations"] == [
        {"donation_id": gift["id"], "tracking_code": gift["tracking_code"], "amount_fen": 50_000}
    ]

    view = track(stack, gift["tracking_code"])
    assert view["donor"] == "欧阳*远"
    assert view["status"] == "allocated"
    assert view["receipt"]["receipt_no"] == receipt["receipt_no"]
    assert view["project"]["code"] == project["code"]
    (use,) = view["uses"]
    assert (use["amount_fen"], use["purpose"], use["recipient"], use["town"]) == (
        50_000,
        "春节走访慰问困难老人",
        "陈*婆",
        "大堰镇",
    )
    assert view["remaining_fen"] == 16_600
    assert "13811112222" not in str(view)
    unknown = httpx.get(stack.url("donation") + "/api/v1/track/0000-0000-0000-0000-0000-0")
    assert unknown.status_code == 404


def test_goods_gift_into_stock_dispatched_signed_and_tracked(stack: Stack) -> None:
    stamp = str(int(time.time() * 1000))[-8:]
    warehouse, item = f"WH-E2E{stamp}", f"QUILT-E2E{stamp}"
    post(
        stack,
        "warehouse",
        "/api/v1/warehouses",
        "warehouse",
        {
            "code": warehouse,
            "name": "区备灾救灾中心仓库（测试）",
            "kind": "district",
            "town": "岳林街道",
        },
        201,
    )
    post(
        stack,
        "warehouse",
        "/api/v1/items",
        "warehouse",
        {
            "code": item,
            "name": "棉被",
            "category": "clothing_bedding",
            "unit": "床",
            "lot_tracked": False,
            "unit_value_fen": 12_000,
            "default_safety_stock": 0,
        },
        201,
    )
    gift = post(
        stack,
        "donation",
        "/api/v1/donations",
        "finance",
        {
            "kind": "goods",
            "channel": "on_site",
            "display": "named",
            "donor": {"name": "奉化水蜜桃合作社", "donor_type": "organization"},
            "items": [
                {
                    "item_code": item,
                    "name": "棉被",
                    "quantity": 10,
                    "unit": "床",
                    "value_fen": 120_000,
                }
            ],
        },
        201,
    )
    keeper = staff(stack, "warehouse")

    def expected() -> dict[str, Any] | None:
        rows = httpx.get(
            stack.url("warehouse") + "/api/v1/expected-inbounds", headers=auth(keeper)
        ).json()
        return next((r for r in rows if r["donation_id"] == gift["id"]), None)

    inbound = wait_for(expected)
    assert isinstance(inbound, dict)
    post(
        stack,
        "warehouse",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        "warehouse",
        {"warehouse_code": warehouse, "lines": [{"line_no": 1, "received_quantity": 10}]},
    )
    # the tracking page allows 30 look-ups a minute per client: poll it slower than that
    wait_for(
        lambda: track(stack, gift["tracking_code"])["status"] == "in_stock",
        timeout=60,
        interval=2.5,
    )

    dispatch = post(
        stack,
        "warehouse",
        "/api/v1/dispatches",
        "dispatcher",
        {
            "from_warehouse_code": warehouse,
            "destination": {"kind": "station", "name": "溪口镇红十字救灾站", "town": "溪口镇"},
            "urgency": "urgent",
            "lines": [{"item_code": item, "quantity": 10}],
        },
        201,
    )
    path = f"/api/v1/dispatches/{dispatch['id']}"
    post(stack, "warehouse", path + "/approve", "approver")
    post(stack, "warehouse", path + "/pick", "warehouse")
    post(stack, "warehouse", path + "/ship", "warehouse", {"waybill_no": f"WB{stamp}"})
    post(
        stack,
        "warehouse",
        path + "/deliver",
        "dispatcher",
        {"recipient_name": "李建华", "recipient_org": "溪口镇人民政府"},
    )

    view = wait_for(
        lambda: (v := track(stack, gift["tracking_code"]))["status"] == "completed" and v,
        timeout=60,
        interval=2.5,
    )
    assert isinstance(view, dict)
    assert [(g["stage"], g["quantity"]) for g in view["goods"]] == [
        ("in_stock", 10),
        ("dispatched", 10),
        ("signed", 10),
    ]
    assert view["goods"][1]["destination"] == "溪口镇"
    assert view["goods"][2]["signed_by"] == "溪口镇人民政府 李*华"
    assert "李建华" not in str(view)
