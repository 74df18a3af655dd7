"""The district and its town branches, end to end with the three services as processes:

* a district keeper sets up a station of 溪口镇 (XK) and one of 大堰镇 (DY);
* a goods gift recorded at the donation desk arrives as an expected inbound and the 溪口镇
  keeper receives it into the 溪口镇 station;
* the 溪口镇 keeper cannot touch the 大堰镇 station's stock (a 403 naming both organisations,
  nothing written), nor the 大堰镇 keeper read the 溪口镇 station's;
* the district dispatcher sends the goods from the 溪口镇 station to a shelter in 大堰镇 (approved
  by another person, picked and shipped by the 溪口镇 keeper, signed for), and the gift's
  public tracking page shows it delivered;
* a closed project's remainder moves to another project with the donor's consent: the donor's
  tracking page shows where the fen went, and the public feed has the transfer entry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e

XK_ORG, DY_ORG = "溪口镇红十字会", "大堰镇红十字会"


class Desk:
    """Calls as one logged-in person (tokens cached per account)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.tokens: dict[str, str] = {}

    def request(
        self, who: str, method: str, service: str, path: str, status: int = 200, **kw: Any
    ) -> Any:
        if who not in self.tokens:
            self.tokens[who] = token(self.stack, who)
        headers = {
            "Authorization": f"Bearer {self.tokens[who]}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        response = httpx.request(
            method, self.stack.url(service) + path, headers=headers, timeout=15, **kw
        )
        assert response.status_code == status, f"{method} {path} as {who}: {response.text}"
        return response.json()

    def post(self, who: str, service: str, path: str, body: Any = None, status: int = 200) -> Any:
        return self.request(who, "POST", service, path, status, json=body)

    def get(self, who: str, service: str, path: str, status: int = 200, **params: Any) -> Any:
        return self.request(who, "GET", service, path, status, params=params)


def track(stack: Stack, code: str) -> dict[str, Any] | None:
    """The donor's public tracking page (rate limited: poll it slowly)."""
    response = httpx.get(stack.url("donation") + f"/api/v1/track/{code}", timeout=10)
    if response.status_code == 429:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json())


def names_both(error: dict[str, Any]) -> str:
    message = str(error["error"]["message"])
    assert XK_ORG in message, message
    assert DY_ORG in message, message
    return message


def test_a_town_branch_receives_the_district_moves_and_a_remainder_follows_its_donor(
    stack: Stack,
) -> None:
    desk = Desk(stack)
    tag = uuid.uuid4().hex[:6].upper()
    st_xk, st_dy, quilt = f"ST-XK-{tag}", f"ST-DY-{tag}", f"QUILT-{tag}"

    # 1. the district keeper sets up a station per town (each its town's branch's) and an item
    xk = desk.post(
        "warehouse",
        "warehouse",
        "/api/v1/warehouses",
        {
            "code": st_xk,
            "name": "溪口镇救灾物资储备点（测试）",
            "kind": "station",
            "town": "溪口镇",
        },
        201,
    )
    dy = desk.post(
        "warehouse",
        "warehouse",
        "/api/v1/warehouses",
        {
            "code": st_dy,
            "name": "大堰镇救灾物资储备点（测试）",
            "kind": "station",
            "town": "大堰镇",
        },
        201,
    )
    assert (xk["org_code"], dy["org_code"]) == ("XK", "DY")
    desk.post(
        "warehouse",
        "warehouse",
        "/api/v1/items",
        {
            "code": quilt,
            "name": "棉被",
            "category": "clothing_bedding",
            "unit": "床",
            "unit_value_fen": 12_000,
        },
        201,
    )

    # 2. a goods gift at the donation desk → expected inbound → 溪口镇 keeper receives it
    gift = desk.post(
        "finance",
        "donation",
        "/api/v1/donations",
        {
            "kind": "goods",
            "channel": "on_site",
            "display": "named",
            "donor": {"name": "溪口镇爱心商户联盟", "donor_type": "organization"},
            "items": [
                {
                    "item_code": quilt,
                    "name": "棉被",
                    "quantity": 20,
                    "unit": "床",
                    "value_fen": 240_000,
                }
            ],
        },
        201,
    )

    def expected() -> dict[str, Any] | None:
        page = desk.get("keeper-xk", "warehouse", "/api/v1/inbounds", donation_id=gift["id"])
        return page["items"][0] if page["items"] else None

    inbound = wait_for(expected)
    assert isinstance(inbound, dict)
    assert inbound["status"] == "expected"
    receipt = desk.post(
        "keeper-xk",
        "warehouse",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        {"warehouse_code": st_xk, "lines": [{"line_no": 1, "received_quantity": 20}]},
    )
    assert receipt["status"] == "received"
    lots = desk.get("keeper-xk", "warehouse", "/api/v1/lots", donation_id=gift["id"])
    assert [(x["warehouse_code"], x["item_code"], x["on_hand"]) for x in lots["items"]] == [
        (st_xk, quilt, 20)
    ]

    # 3. the 溪口镇 keeper cannot touch the 大堰镇 station's stock, and the 大堰镇 keeper
    #    cannot read the 溪口镇 station's
    refused = desk.post(
        "keeper-xk",
        "warehouse",
        "/api/v1/stock-counts",
        {
            "warehouse_code": st_dy,
            "note": "越权盘点",
            "lines": [
                {"item_code": quilt, "counted_quantity": 5, "reason": "found", "lot_no": "PD-X"}
            ],
        },
        403,
    )
    assert st_dy in names_both(refused)
    untouched = desk.get("warehouse", "warehouse", "/api/v1/stock", warehouse_code=st_dy)
    assert untouched["items"] == []
    counts = desk.get("warehouse", "warehouse", "/api/v1/stock-counts", warehouse_code=st_dy)
    assert counts["items"] == []
    unread = desk.get("keeper-dy", "warehouse", "/api/v1/stock", 403, warehouse_code=st_xk)
    assert st_xk in names_both(unread)
    home = desk.get("keeper-dy", "warehouse", "/api/v1/stock", warehouse_code=st_dy)
    assert home["items"] == []

    # 4. the district dispatcher sends them from the 溪口镇 station to a shelter in 大堰镇
    dispatch = desk.post(
        "dispatcher",
        "warehouse",
        "/api/v1/dispatches",
        {
            "from_warehouse_code": st_xk,
            "destination": {"kind": "shelter", "name": "大堰镇避灾安置点", "town": "大堰镇"},
            "incident_code": f"TY-{tag}",
            "incident_name": "台风（端到端测试）",
            "urgency": "critical",
            "lines": [{"item_code": quilt, "quantity": 15}],
        },
        201,
    )
    path = f"/api/v1/dispatches/{dispatch['id']}"
    desk.post("dispatcher", "warehouse", path + "/approve", status=403)  # not their own
    desk.post("approver", "warehouse", path + "/approve")
    # the 大堰镇 keeper cannot pick at the 溪口镇 station
    names_both(desk.post("keeper-dy", "warehouse", path + "/pick", status=403))
    picked = desk.post("keeper-xk", "warehouse", path + "/pick")
    assert {a["donation_id"] for a in picked["allocations"]} == {gift["id"]}
    desk.post("keeper-xk", "warehouse", path + "/ship", {"waybill_no": f"WB-{tag}"})
    delivered = desk.post(
        "dispatcher",
        "warehouse",
        path + "/deliver",
        {"recipient_name": "竺建国", "recipient_org": "大堰镇人民政府"},
    )
    assert delivered["status"] == "delivered"
    stock = desk.get("keeper-xk", "warehouse", "/api/v1/stock", warehouse_code=st_xk)
    assert [(x["item_code"], x["on_hand"], x["reserved"]) for x in stock["items"]] == [
        (quilt, 5, 0)
    ]

    def delivered_on_tracking() -> dict[str, Any] | None:
        view = track(stack, gift["tracking_code"])
        if view is None:
            return None
        stages = [g["stage"] for g in view["goods"]]
        return view if "signed" in stages else None

    view = wait_for(delivered_on_tracking, timeout=45, interval=2.5)
    assert isinstance(view, dict)
    goods = {g["stage"]: g for g in view["goods"]}
    assert (goods["dispatched"]["quantity"], goods["dispatched"]["destination"]) == (15, "大堰镇")
    assert goods["signed"]["signed_by"] == "大堰镇人民政府 竺*国"
    assert "竺建国" not in str(view)

    # 5. money: a designated gift partly used, the project closed, its remainder moved to B
    #    with the donor's consent
    code_a, code_b = f"E2E-A-{tag}", f"E2E-B-{tag}"
    today = datetime.now(UTC).date().isoformat()
    for code, name in ((code_a, "大堰镇灾后重建（端到端）"), (code_b, "博爱家园·大堰镇（端到端）")):
        desk.post(
            "finance",
            "donation",
            "/api/v1/projects",
            {
                "code": code,
                "name": name,
                "category": "other",
                "town": "大堰镇",
                "starts_on": "2026-01-01",
                "ends_on": "2026-12-31",
            },
            201,
        )
    money = desk.post(
        "finance",
        "donation",
        "/api/v1/donations",
        {
            "amount_fen": 100_000,
            "channel": "bank_transfer",
            "external_ref": f"E2E-STORY-{tag}",
            "project_code": code_a,
            "display": "named",
            "donor": {"name": "竺晓燕", "phone": "13900003333"},
        },
        201,
    )
    disbursement = desk.post(
        "finance",
        "donation",
        f"/api/v1/projects/{code_a}/disbursements",
        {
            "amount_fen": 30_000,
            "purpose": "大堰镇受灾户临时生活救助",
            "recipient_type": "person",
            "recipient_name": "竺阿婆",
            "town": "大堰镇",
            "voucher_no": f"FH-STORY-{tag}",
            "disbursed_on": today,
        },
        201,
    )
    desk.post(
        "finance", "donation", f"/api/v1/disbursements/{disbursement['id']}/approve", status=403
    )
    approved = desk.post(
        "approver", "donation", f"/api/v1/disbursements/{disbursement['id']}/approve"
    )
    assert [(a["donation_id"], a["amount_fen"]) for a in approved["allocations"]] == [
        (money["id"], 30_000)
    ]
    closed = desk.post("finance", "donation", f"/api/v1/projects/{code_a}/close", {})
    assert closed["status"] == "closed"
    desk.post(
        "finance",
        "donation",
        f"/api/v1/projects/{code_a}/remainder/consents",
        {
            "donation_id": money["id"],
            "method": "phone",
            "obtained_by": "财务 王会计",
            "obtained_at": datetime.now(UTC).isoformat(),
            "note": "电话征得同意",
        },
        201,
    )
    desk.post(
        "finance",
        "donation",
        f"/api/v1/projects/{code_a}/remainder",
        {"decision": "transfer", "target_project_code": code_b, "note": "理事会决议转入博爱家园"},
        201,
    )
    a = desk.get("finance", "donation", f"/api/v1/projects/{code_a}", figures="true")
    moves = a["remainder"]["moves"]
    assert [
        (m["donation_id"], m["outcome"], m["to_project_code"], m["amount_fen"]) for m in moves
    ] == [(money["id"], "transferred", code_b, 70_000)]
    assert (a["figures"]["remaining_fen"], a["figures"]["transferred_out_fen"]) == (0, 70_000)
    b = desk.get("finance", "donation", f"/api/v1/projects/{code_b}", figures="true")
    assert b["figures"]["transferred_in_fen"] == 70_000

    def moved_on_tracking() -> dict[str, Any] | None:
        view = track(stack, money["tracking_code"])
        return view if view is not None and view["remainder"] else None

    page = wait_for(moved_on_tracking, timeout=45, interval=2.5)
    assert isinstance(page, dict)
    assert [
        (r["from_project_code"], r["outcome"], r["to_project_code"], r["amount_fen"])
        for r in page["remainder"]
    ] == [(code_a, "transferred", code_b, 70_000)]
    assert any(e["event"] == "remainder_transferred" for e in page["timeline"])
    assert "13900003333" not in str(page)

    def feed_entry() -> dict[str, Any] | None:
        response = httpx.get(
            stack.url("notification") + "/api/v1/public/feed",
            params={"kind": "project.remainder_transferred", "project": code_a},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        return items[0] if items else None

    entry = wait_for(feed_entry, timeout=45, interval=1)
    assert isinstance(entry, dict)
    assert (
        entry["data"]["from_project_code"],
        entry["data"]["to_project_code"],
        entry["data"]["amount_fen"],
    ) == (code_a, code_b, 70_000)
    assert entry["title"] == (
        "项目结余 ¥700.00 经捐赠人同意（电话）"
        "由 大堰镇灾后重建（端到端） 转入 博爱家园·大堰镇（端到端）"
    )
    # it is on the donor's own entries (looked up by the gift's tracking code)
    mine = httpx.get(
        stack.url("notification") + f"/api/v1/public/track/{money['tracking_code']}", timeout=10
    )
    assert mine.status_code == 200, mine.text
    assert entry["id"] in {e["id"] for e in mine.json()["items"]}
