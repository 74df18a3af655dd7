"""A refund of an online gift goes back through its gateway, after the usual refund rules
(four eyes above the threshold); the money's way back is followed to the gateway's success."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.integration.giving.conftest import Giving

pytestmark = pytest.mark.integration


async def paid_gift(giving: Giving, channel: str, fen: int) -> tuple[dict[str, Any], Any]:
    scene = "native" if channel == "wechat_pay" else "wap"
    order = await giving.start(channel=channel, scene=scene, amount_fen=fen)
    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    return order, row


async def refund_row(giving: Giving, donation_id: Any, status: str, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await giving.row("SELECT * FROM gateway_refunds WHERE donation_id = $1", donation_id)
        if row is not None and row["status"] == status:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"refund of {donation_id} not {status}: {row and dict(row)}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("channel", ["wechat_pay", "alipay"])
async def test_a_refund_goes_back_through_the_gateway(giving: Giving, channel: str) -> None:
    order, row = await paid_gift(giving, channel, 3300)
    response = await giving.client.post(
        f"/api/v1/donations/{row['donation_id']}/refund",
        json={"reason": "捐赠人申请退回"},
        headers=giving.staff(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "refunded"
    done = await refund_row(giving, row["donation_id"], "success")
    assert done["amount_fen"] == 3300
    assert done["total_fen"] == 3300
    assert done["out_trade_no"] == order["out_trade_no"]
    if channel == "wechat_pay":  # WeChat numbers its refunds; Alipay's keep the trade's number
        assert done["refund_id"]
    gateway = "wechat" if channel == "wechat_pay" else "alipay"
    seen = (await giving.sandbox.get(f"/sandbox/{gateway}/orders/{order['out_trade_no']}")).json()
    number = "out_refund_no" if channel == "wechat_pay" else "out_request_no"  # as each names it
    assert [r[number] for r in seen["refunds"]] == [done["out_refund_no"]]


async def test_above_the_threshold_the_gateway_refund_waits_for_the_second_person(
    giving: Giving,
) -> None:
    fen = giving.settings.refund_four_eyes_fen + 100
    _, row = await paid_gift(giving, "wechat_pay", fen)
    asked = await giving.client.post(
        f"/api/v1/donations/{row['donation_id']}/refund",
        json={"reason": "项目取消，退回捐赠人"},
        headers=giving.staff(),
    )
    assert asked.status_code == 202, asked.text
    await asyncio.sleep(1.5)  # a few sweeper rounds: nothing may be sent before approval
    assert (
        await giving.row("SELECT 1 FROM gateway_refunds WHERE donation_id = $1", row["donation_id"])
        is None
    )
    request_id = asked.json()["id"]
    approved = await giving.client.post(
        f"/api/v1/refund-requests/{request_id}/approve",
        json={},
        headers=giving.staff("approver", user="approver-2"),
    )
    assert approved.status_code == 200, approved.text
    done = await refund_row(giving, row["donation_id"], "success")
    assert done["amount_fen"] == fen


async def test_a_gift_keyed_in_by_staff_is_not_sent_to_a_gateway(giving: Giving) -> None:
    gift = await giving.client.post(
        "/api/v1/donations",
        json={
            "kind": "money",
            "amount_fen": 5000,
            "channel": "wechat_pay",
            "external_ref": f"4200{uuid.uuid4().int % 10**20:020d}",
            "display": "surname",
            "donor": {"name": "王建国"},
        },
        headers=giving.staff(),
    )
    assert gift.status_code == 201, gift.text
    refunded = await giving.client.post(
        f"/api/v1/donations/{gift.json()['id']}/refund",
        json={"reason": "录入错误"},
        headers=giving.staff(),
    )
    assert refunded.status_code == 200, refunded.text
    assert (
        await giving.row(
            "SELECT 1 FROM gateway_refunds WHERE donation_id = $1::uuid", gift.json()["id"]
        )
        is None
    )
