"""A donor gives online: the order, the gateway's notification (or our query), the gift and
its receipt, and everything that must change nothing (forged, repeated, mismatched)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.contracts.donation import DONATION_RECEIPTED, DONATION_RECEIVED, NOTICE_REQUESTED
from tests.integration.giving.conftest import Giving

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def open_project(giving: Giving, **overrides: Any) -> str:
    code = f"OG-{int(time.time() * 1000) % 100_000_000}"
    body = {
        "code": code,
        "name": "网上捐赠测试项目",
        "category": "emergency",
        "description": "online giving",
        "starts_on": "2026-01-01",
    } | overrides
    response = await giving.client.post("/api/v1/projects", json=body, headers=giving.staff())
    assert response.status_code == 201, response.text
    return code


async def test_options_list_open_projects_channels_and_presets(giving: Giving) -> None:
    code = await open_project(giving)
    options = (await giving.client.get("/api/v1/giving/options")).json()
    assert options["channels"] == ["alipay", "wechat_pay"]
    assert options["presets_fen"] == giving.settings.online_presets_fen
    assert code in [p["code"] for p in options["projects"]]


async def test_wechat_native_paid_by_notification_becomes_a_receipted_gift(giving: Giving) -> None:
    code = await open_project(giving)
    order = await giving.start(
        channel="wechat_pay", scene="native", project_code=code, amount_fen=8800
    )
    assert order["status"] == "pending"
    assert order["show_as_qr"]
    assert order["pay_url"].startswith("weixin://")
    qr = await giving.client.get(order["qr_url"])
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in qr.content

    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    assert row["paid_fen"] == 8800
    assert row["transaction_id"]
    gift = await giving.row("SELECT * FROM donations WHERE id = $1", row["donation_id"])
    assert gift is not None
    assert (gift["channel"], gift["amount_fen"], gift["project_code"]) == ("wechat_pay", 8800, code)
    assert gift["external_ref"] == row["transaction_id"]
    assert gift["created_by"] == "online:wechat_pay"

    shown = await giving.order(order["out_trade_no"])
    assert shown["status"] == "paid"
    assert shown["pay_url"] is None
    assert shown["qr_url"] is None
    assert shown["tracking_code"] == gift["tracking_code"]
    assert shown["receipt_no"]
    tracked = (await giving.client.get(f"/api/v1/track/{shown['tracking_code']}")).json()
    assert tracked["amount_fen"] == 8800
    assert tracked["receipt"]["receipt_no"] == shown["receipt_no"]

    pdf = await giving.client.get(f"/api/v1/receipts/{shown['tracking_code']}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    outcomes = await giving.rows(
        "SELECT source, outcome FROM payment_events WHERE out_trade_no = $1",
        order["out_trade_no"],
    )
    assert [(r["source"], r["outcome"]) for r in outcomes] == [("notify", "applied")]

    # the public feed's event and the donor's notice (a phone was given) left through the relay
    events = await published_events(giving, str(row["donation_id"]))
    assert events.count(DONATION_RECEIVED) == 1
    assert events.count(DONATION_RECEIPTED) == 1
    assert events.count(NOTICE_REQUESTED) >= 1


async def published_events(giving: Giving, subject: str, timeout: float = 15) -> list[str]:
    """The event types the relay published to Kafka for ``subject``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await giving.rows(
            "SELECT type, published_at FROM outbox WHERE subject = $1 ORDER BY seq", subject
        )
        if rows and all(r["published_at"] is not None for r in rows):
            return [r["type"] for r in rows]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"events of {subject} not all published: {rows}")
        await asyncio.sleep(0.1)


async def test_alipay_wap_paid_by_notification(giving: Giving) -> None:
    order = await giving.start(
        channel="alipay",
        scene="wap",
        amount_fen=12345,
        display="anonymous",
        name=None,
        want_receipt=False,
    )
    assert not order["show_as_qr"]
    assert "/gateway.do?" in order["pay_url"]
    cashier = await giving.sandbox.get(order["pay_url"])  # the donor's phone opens it
    assert cashier.status_code == 200, cashier.text[:300]
    assert "支付宝" in cashier.text
    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    gift = await giving.row("SELECT * FROM donations WHERE id = $1", row["donation_id"])
    assert gift is not None
    assert (gift["channel"], gift["amount_fen"], gift["project_code"]) == ("alipay", 12345, None)
    assert gift["display_name"] == "爱心人士"
    shown = await giving.order(order["out_trade_no"])
    assert shown["receipt_no"] is None  # none asked for
    missing = await giving.client.get(f"/api/v1/receipts/{shown['tracking_code']}.pdf")
    assert missing.status_code == 404


async def test_a_missed_notification_is_caught_by_the_result_page(giving: Giving) -> None:
    order = await giving.start(channel="wechat_pay", scene="h5", amount_fen=2000)
    assert order["pay_url"].startswith(str(giving.sandbox.base_url).rstrip("/"))
    assert "redirect_url=" in order["pay_url"]
    await giving.pay(order, notify=False)
    shown = await giving.order(order["out_trade_no"])  # the page asks the gateway itself
    assert shown["status"] == "paid"
    assert shown["tracking_code"]
    outcomes = await giving.rows(
        "SELECT source, outcome FROM payment_events WHERE out_trade_no = $1",
        order["out_trade_no"],
    )
    assert [(r["source"], r["outcome"]) for r in outcomes] == [("query", "applied")]


async def test_a_missed_notification_is_caught_by_the_sweeper(giving: Giving) -> None:
    order = await giving.start(channel="alipay", scene="page", amount_fen=3000)
    await giving.pay(order, notify=False)
    row = await giving.until_status(order["out_trade_no"], "paid")  # nobody reads the order
    assert row["paid_fen"] == 3000


async def test_a_repeated_notification_makes_no_second_gift(giving: Giving) -> None:
    order = await giving.start(channel="wechat_pay", scene="native", amount_fen=6600)
    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    response = await giving.sandbox.post(f"/sandbox/wechat/orders/{order['out_trade_no']}/renotify")
    assert response.status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        outcomes = [
            r["outcome"]
            for r in await giving.rows(
                "SELECT outcome FROM payment_events WHERE out_trade_no = $1 ORDER BY id",
                order["out_trade_no"],
            )
        ]
        if "duplicate" in outcomes:
            break
        await asyncio.sleep(0.1)
    assert outcomes == ["applied", "duplicate"]
    gifts = await giving.rows(
        "SELECT id FROM donations WHERE channel = 'wechat_pay' AND external_ref = $1",
        row["transaction_id"],
    )
    assert len(gifts) == 1


async def test_an_unpaid_order_past_its_expiry_is_closed_at_the_gateway_and_here(
    giving: Giving,
) -> None:
    order = await giving.start(channel="wechat_pay", scene="native", amount_fen=1500)
    conn = await giving.db()
    try:
        await conn.execute(
            "UPDATE online_orders SET expires_at = now() - interval '1 second', "
            "created_at = now() - interval '1 minute' WHERE out_trade_no = $1",
            order["out_trade_no"],
        )
    finally:
        await conn.close()
    row = await giving.until_status(order["out_trade_no"], "closed")
    assert row["close_reason"] == "expired"
    assert row["donation_id"] is None
    at_gateway = (
        await giving.sandbox.get(f"/sandbox/wechat/orders/{order['out_trade_no']}")
    ).json()
    assert at_gateway["state"]["trade_state"] == "CLOSED"
    late = await giving.sandbox.post(f"/sandbox/wechat/orders/{order['out_trade_no']}/pay", json={})
    assert late.status_code == 409  # it can no longer be paid


# --- notifications that must change nothing -------------------------------------------------


def alipay_signed(giving: Giving, fields: dict[str, str]) -> bytes:
    key = serialization.load_pem_private_key(
        (giving.sandbox_state / "private" / "alipay_private_key.pem").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v)
    sign = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))
    return urlencode({**fields, "sign": sign.decode(), "sign_type": "RSA2"}).encode()


def alipay_fields(giving: Giving, out_trade_no: str, amount: str, **extra: str) -> dict[str, str]:
    app = json.loads((giving.sandbox_state / "alipay" / "app.json").read_text())
    now = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "notify_id": f"n{time.time_ns()}",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": app["app_id"],
        "seller_id": app["seller_id"],
        "trade_no": f"2026{time.time_ns()}",
        "out_trade_no": out_trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "gmt_payment": now,
    } | extra


async def post_alipay(giving: Giving, body: bytes) -> httpx.Response:
    return await giving.client.post(
        "/api/v1/payments/alipay/notify",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


async def test_twenty_copies_of_a_notification_at_once_make_one_gift(giving: Giving) -> None:
    order = await giving.start(channel="alipay", scene="wap", amount_fen=7700)
    body = alipay_signed(giving, alipay_fields(giving, order["out_trade_no"], "77.00"))
    answers = await asyncio.gather(*(post_alipay(giving, body) for _ in range(20)))
    assert [a.text for a in answers] == ["success"] * 20
    row = await giving.until_status(order["out_trade_no"], "paid")
    gifts = await giving.rows(
        "SELECT id FROM donations WHERE channel = 'alipay' AND external_ref = $1",
        row["transaction_id"],
    )
    assert len(gifts) == 1
    outcomes = sorted(
        r["outcome"]
        for r in await giving.rows(
            "SELECT outcome FROM payment_events WHERE out_trade_no = $1", order["out_trade_no"]
        )
    )
    assert outcomes == ["applied"] + ["duplicate"] * 19


async def test_a_notification_for_another_amount_changes_nothing(giving: Giving) -> None:
    order = await giving.start(channel="alipay", scene="wap", amount_fen=10000)
    body = alipay_signed(giving, alipay_fields(giving, order["out_trade_no"], "1.00"))
    response = await post_alipay(giving, body)
    assert response.text == "success"  # verified: no point in the gateway retrying it
    row = await giving.row(
        "SELECT status, donation_id FROM online_orders WHERE out_trade_no = $1",
        order["out_trade_no"],
    )
    assert row is not None
    assert (row["status"], row["donation_id"]) == ("pending", None)
    outcomes = await giving.rows(
        "SELECT outcome, amount_fen FROM payment_events WHERE out_trade_no = $1",
        order["out_trade_no"],
    )
    assert [(r["outcome"], r["amount_fen"]) for r in outcomes] == [("amount_mismatch", 100)]


async def test_a_notification_for_an_unknown_order_is_recorded_only(giving: Giving) -> None:
    body = alipay_signed(giving, alipay_fields(giving, "SG20261207nosuchorder0000", "5.00"))
    assert (await post_alipay(giving, body)).text == "success"
    outcomes = await giving.rows(
        "SELECT outcome FROM payment_events WHERE out_trade_no = 'SG20261207nosuchorder0000'"
    )
    assert [r["outcome"] for r in outcomes] == ["unknown_order"]


async def test_forged_notifications_are_refused_and_change_nothing(giving: Giving) -> None:
    order = await giving.start(channel="alipay", scene="wap", amount_fen=4200)
    fields = alipay_fields(giving, order["out_trade_no"], "42.00")
    good = alipay_signed(giving, fields).decode()
    tampered = good.replace("total_amount=42.00", "total_amount=42.01")
    response = await post_alipay(giving, tampered.encode())
    assert response.status_code == 400
    assert response.text != "success"
    other_seller = alipay_signed(giving, fields | {"seller_id": "2088999999999999"})
    assert (await post_alipay(giving, other_seller)).text != "success"

    wechat = await giving.client.post(
        "/api/v1/payments/wechat_pay/notify",
        content=b'{"id":"x","event_type":"TRANSACTION.SUCCESS","resource":{}}',
        headers={
            "Content-Type": "application/json",
            "Wechatpay-Serial": "PUB_KEY_ID_0",
            "Wechatpay-Signature": "AAAA",
            "Wechatpay-Timestamp": str(int(time.time())),
            "Wechatpay-Nonce": "n",
        },
    )
    assert wechat.status_code >= 400
    assert wechat.json()["code"] == "FAIL"
    row = await giving.row(
        "SELECT status FROM online_orders WHERE out_trade_no = $1", order["out_trade_no"]
    )
    assert row is not None
    assert row["status"] == "pending"
    assert not await giving.rows(
        "SELECT 1 FROM payment_events WHERE out_trade_no = $1", order["out_trade_no"]
    )
    metrics = (await giving.client.get("/metrics")).text
    assert (
        'sunshine_payment_notifications_rejected_total{channel="alipay",reason="signature"}'
        in metrics
    )


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"amount_fen": 50}, 422, "amount_fen"),
        ({"amount_fen": 10_000_000}, 422, "amount_fen"),
        ({"amount_fen": 12.5}, 422, "amount_fen"),
        ({"channel": "paypal"}, 422, "channel"),
        ({"channel": "alipay", "scene": "native"}, 422, "scene"),
        ({"display": "named", "name": None}, 422, "name"),
        ({"credit_code": "91350100M000100Y43"}, 422, "organisations"),
        (
            {"donor_type": "organization", "name": "某公司", "credit_code": "91350100M000100Y44"},
            422,
            "校验位",
        ),
        ({"project_code": "NO-SUCH-PROJECT"}, 422, "unknown project"),
    ],
)
async def test_bad_orders_are_refused_with_a_reason(
    giving: Giving, change: dict[str, Any], status: int, says: str
) -> None:
    body = {"channel": "wechat_pay", "amount_fen": 5000, "display": "surname", "name": "陈晓梅"}
    body.update(change)
    before = await giving.row("SELECT count(*) AS n FROM online_orders")
    response = await giving.client.post("/api/v1/giving/orders", json=body)
    assert response.status_code == status, response.text
    assert says in response.text
    after = await giving.row("SELECT count(*) AS n FROM online_orders")
    assert before is not None
    assert after is not None
    assert before["n"] == after["n"]


async def test_a_closed_project_takes_no_new_orders(giving: Giving) -> None:
    code = await open_project(giving)
    closed = await giving.client.post(
        f"/api/v1/projects/{code}/close", json={}, headers=giving.staff()
    )
    assert closed.status_code == 200, closed.text
    response = await giving.client.post(
        "/api/v1/giving/orders",
        json={
            "channel": "wechat_pay",
            "amount_fen": 5000,
            "display": "anonymous",
            "project_code": code,
        },
    )
    assert response.status_code == 409
    assert "已结项" in response.json()["error"]["message"]


async def test_an_organisation_gift_carries_its_credit_code_onto_the_receipt(
    giving: Giving,
) -> None:
    order = await giving.start(
        channel="wechat_pay",
        scene="native",
        amount_fen=100_000,
        donor_type="organization",
        name="宁波某某科技有限公司",
        display="named",
        credit_code="91350100m000100y43",
    )
    await giving.pay(order)
    row = await giving.until_status(order["out_trade_no"], "paid")
    receipt = await giving.row(
        "SELECT payer_name, payer_credit_code FROM receipts WHERE donation_id = $1",
        row["donation_id"],
    )
    assert receipt is not None
    assert (receipt["payer_name"], receipt["payer_credit_code"]) == (
        "宁波某某科技有限公司",
        "91350100M000100Y43",
    )
