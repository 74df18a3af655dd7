"""The Alipay adapter against the payment sandbox run as a process (no PostgreSQL or Kafka).

The sandbox issues the app's keys and Alipay's; the adapter is configured from them the way
production settings configure it from files. A trade exists at Alipay only once the payer
opened the cashier, so each order here is opened (GET of its URL) before it is paid.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from donation.adapters.alipay import AlipayConfig, AlipayGateway
from donation.adapters.alipay_signing import SHANGHAI
from donation.domain.payments import (
    GatewayPayment,
    GatewayRefused,
    NotificationRejected,
    OrderRequest,
    PaymentGateway,
    PayScene,
    RefundRequest,
    RefundState,
    ResponseNotVerified,
    TradeState,
)
from tests.payment_sandbox_process import NotifySink, SandboxProcess

pytestmark = pytest.mark.timeout(120)


def config_of(sandbox: SandboxProcess) -> AlipayConfig:
    return AlipayConfig.from_sandbox_state(sandbox.state_dir, f"{sandbox.base_url}/gateway.do")


@pytest.fixture
async def gateway(sandbox: SandboxProcess) -> AsyncIterator[AlipayGateway]:
    adapter = AlipayGateway(config_of(sandbox))
    yield adapter
    await adapter.aclose()


def new_no() -> str:
    return "ALI" + uuid.uuid4().hex[:24]


def order(no: str, fen: int, sink: NotifySink, scene: PayScene = "wap") -> OrderRequest:
    return OrderRequest(
        out_trade_no=no,
        description="阳光红会 博爱家园 捐款",
        amount_fen=fen,
        expires_at=datetime.now(SHANGHAI) + timedelta(minutes=30),
        scene=scene,
        client_ip="203.0.113.7",
        notify_url=f"{sink.url}/payments/alipay/notify",
        return_url="https://give.example.org/thanks",
    )


async def open_cashier(pay_url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(pay_url)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "确认付款" in page.text, page.text  # the cashier, not its error page
    return page.text


def control(sandbox: SandboxProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with sandbox.controls() as client:
        return client.request(method, path, **kwargs)


def pay(sandbox: SandboxProcess, no: str, *, notify: bool = True) -> None:
    answer = control(sandbox, "POST", f"/sandbox/alipay/orders/{no}/pay", json={"notify": notify})
    assert answer.status_code == 200, answer.text


def attempts(sandbox: SandboxProcess, no: str) -> list[dict[str, Any]]:
    answer = control(sandbox, "GET", "/sandbox/notifications", params={"out_trade_no": no})
    answer.raise_for_status()
    rows: list[dict[str, Any]] = answer.json()
    return rows


async def paid_order(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink, fen: int
) -> str:
    no = new_no()
    created = await gateway.create_order(order(no, fen, sink))
    await open_cashier(created.pay_url)
    pay(sandbox, no, notify=False)
    return no


def test_the_adapter_is_a_payment_gateway(gateway: AlipayGateway) -> None:
    port: PaymentGateway = gateway  # checked by mypy
    assert port.channel == "alipay"
    assert port.scenes == frozenset({"wap", "page"})


@pytest.mark.parametrize(
    ("scene", "method"), [("wap", "alipay.trade.wap.pay"), ("page", "alipay.trade.page.pay")]
)
async def test_an_order_opens_the_cashier_is_paid_and_notified(
    gateway: AlipayGateway,
    sandbox: SandboxProcess,
    sink: NotifySink,
    scene: PayScene,
    method: str,
) -> None:
    sink.body = b"success"
    no = new_no()
    created = await gateway.create_order(order(no, 1234, sink, scene))
    assert not created.show_as_qr
    query = parse_qs(urlsplit(created.pay_url).query)
    assert query["method"] == [method]

    assert (await gateway.query_order(no)).state is TradeState.NOT_FOUND  # not opened yet
    page = await open_cashier(created.pay_url)
    assert "12.34" in page
    assert (await gateway.query_order(no)).state is TradeState.UNPAID

    pay(sandbox, no)
    [arrived] = sink.wait_for(1)
    assert arrived.path == "/payments/alipay/notify"
    notified = await gateway.verify_notification(arrived.headers, arrived.body)
    assert isinstance(notified, GatewayPayment)
    assert notified.state is TradeState.PAID
    assert notified.out_trade_no == no
    assert notified.amount_fen == 1234
    assert notified.paid_at is not None
    assert notified.paid_at.utcoffset() == timedelta(hours=8)
    assert abs(notified.paid_at.timestamp() - time.time()) < 60

    queried = await gateway.query_order(no)
    assert queried.state is TradeState.PAID
    assert queried.amount_fen == 1234
    assert queried.transaction_id == notified.transaction_id
    assert queried.transaction_id
    assert queried.paid_at == notified.paid_at

    [delivery] = attempts(sandbox, no)
    assert (delivery["attempt"], delivery["status"], delivery["body"]) == (1, 200, "success")


async def test_a_notification_for_another_app_is_rejected(
    sandbox: SandboxProcess, sink: NotifySink
) -> None:
    sink.body = b"success"
    config = config_of(sandbox)
    ours = AlipayGateway(config)
    other = AlipayGateway(
        AlipayConfig(
            app_id="9021000000009999",
            seller_id=config.seller_id,
            app_private_key=config.app_private_key,
            alipay_public_key=config.alipay_public_key,
            gateway_url=config.gateway_url,
        )
    )
    try:
        no = new_no()
        await open_cashier((await ours.create_order(order(no, 500, sink))).pay_url)
        pay(sandbox, no)
        [arrived] = sink.wait_for(1)
        with pytest.raises(NotificationRejected) as rejected:
            await other.verify_notification(arrived.headers, arrived.body)
        assert rejected.value.reason == "app_id"
        answer = other.rejection(str(rejected.value))
        assert (answer.status_code, answer.body) == (400, b"fail")
    finally:
        await ours.aclose()
        await other.aclose()


async def test_a_notification_is_retried_until_answered_success(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    rejection = gateway.rejection("a test that refuses")
    sink.status, sink.body = rejection.status_code, rejection.body
    no = new_no()
    await open_cashier((await gateway.create_order(order(no, 888, sink))).pay_url)
    pay(sandbox, no)
    sink.wait_for(2)  # the first attempt and the first retry (240 s × 0.001)
    ack = gateway.acknowledgement()
    sink.status, sink.body, sink.content_type = ack.status_code, ack.body, ack.media_type
    deadline = time.monotonic() + 15
    while not (rows := attempts(sandbox, no)) or rows[-1]["body"] != "success":
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.1)
    assert [row["attempt"] for row in rows] == list(range(1, len(rows) + 1))
    assert [row["body"] for row in rows[:2]] == ["fail", "fail"]
    assert [row["status"] for row in rows[:2]] == [400, 400]
    await asyncio.sleep(1.0)  # delivered: nothing more comes
    assert len(attempts(sandbox, no)) == len(rows)
    for arrived in sink.received:  # every attempt carries the same verified content
        notified = await gateway.verify_notification(arrived.headers, arrived.body)
        assert (notified.state, notified.amount_fen) == (TradeState.PAID, 888)


async def test_a_held_notification_comes_on_renotify(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    sink.body = b"success"
    no = await paid_order(gateway, sandbox, sink, 300)
    await asyncio.sleep(0.3)
    assert sink.received == []  # paid, notification lost
    assert control(sandbox, "POST", f"/sandbox/alipay/orders/{no}/renotify").status_code == 200
    [arrived] = sink.wait_for(1)
    notified = await gateway.verify_notification(arrived.headers, arrived.body)
    assert (notified.out_trade_no, notified.state) == (no, TradeState.PAID)


async def test_closing_an_unpaid_order(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    no = new_no()
    await open_cashier((await gateway.create_order(order(no, 1000, sink))).pay_url)
    await gateway.close_order(no)
    assert (await gateway.query_order(no)).state is TradeState.CLOSED
    await gateway.close_order(no)  # again: still fine
    answer = control(sandbox, "POST", f"/sandbox/alipay/orders/{no}/pay", json={})
    assert answer.status_code == 409  # a closed trade cannot be paid

    never_opened = new_no()
    await gateway.create_order(order(never_opened, 1000, sink))
    await gateway.close_order(never_opened)  # nothing at Alipay to close
    assert (await gateway.query_order(never_opened)).state is TradeState.NOT_FOUND


async def test_closing_a_paid_order_is_refused(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    no = await paid_order(gateway, sandbox, sink, 1000)
    with pytest.raises(GatewayRefused) as refused:
        await gateway.close_order(no)
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"
    assert (await gateway.query_order(no)).state is TradeState.PAID


def refund_of(no: str, refund_no: str, fen: int, total: int) -> RefundRequest:
    return RefundRequest(no, refund_no, fen, total, "捐赠人申请退回")


async def test_partial_then_full_refund(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    no = await paid_order(gateway, sandbox, sink, 10000)
    first = await gateway.refund(refund_of(no, no + "R1", 3000, 10000))
    assert (first.state, first.refund_fen, first.out_refund_no) == (
        RefundState.SUCCESS, 3000, no + "R1",
    )  # fmt: skip
    assert first.succeeded_at is not None
    assert (await gateway.query_order(no)).state is TradeState.PAID  # partly refunded

    again = await gateway.refund(refund_of(no, no + "R1", 3000, 10000))  # a retried call
    assert (again.state, again.refund_fen) == (RefundState.SUCCESS, 3000)
    refunds = control(sandbox, "GET", f"/sandbox/alipay/orders/{no}").json()["refunds"]
    assert [r["refund_fen"] for r in refunds] == [3000]  # no money moved twice

    queried = await gateway.query_refund(no, no + "R1")
    assert (queried.state, queried.refund_fen) == (RefundState.SUCCESS, 3000)
    assert queried.succeeded_at == first.succeeded_at

    with pytest.raises(GatewayRefused):  # more than what is left
        await gateway.refund(refund_of(no, no + "R2", 7001, 10000))
    rest = await gateway.refund(refund_of(no, no + "R2", 7000, 10000))
    assert (rest.state, rest.refund_fen) == (RefundState.SUCCESS, 7000)
    assert (await gateway.query_order(no)).state is TradeState.REFUNDED

    unknown = await gateway.query_refund(no, no + "R9")
    assert unknown.state is RefundState.PROCESSING


async def test_a_full_refund_at_once(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    no = await paid_order(gateway, sandbox, sink, 2500)
    done = await gateway.refund(refund_of(no, no + "R", 2500, 2500))
    assert (done.state, done.refund_fen) == (RefundState.SUCCESS, 2500)
    assert (await gateway.query_refund(no, no + "R")).refund_fen == 2500
    assert (await gateway.query_order(no)).state is TradeState.REFUNDED


async def test_refunds_are_notified_with_the_trade_state_they_leave(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    sink.body = b"success"
    no = await paid_order(gateway, sandbox, sink, 6000)  # its payment notification held
    await gateway.refund(refund_of(no, no + "R1", 1000, 6000))
    [partly] = sink.wait_for(1)
    await gateway.refund(refund_of(no, no + "R2", 5000, 6000))
    _, fully = sink.wait_for(2)
    fields = [dict(parse_qs(r.body.decode("ascii"))) for r in (partly, fully)]
    assert [f["out_biz_no"] for f in fields] == [[no + "R1"], [no + "R2"]]
    assert [f["refund_fee"] for f in fields] == [["10.00"], ["60.00"]]

    after_part = await gateway.verify_notification(partly.headers, partly.body)
    assert (after_part.state, after_part.amount_fen) == (TradeState.PAID, 6000)
    after_all = await gateway.verify_notification(fully.headers, fully.body)
    assert (after_all.state, after_all.amount_fen) == (TradeState.REFUNDED, 6000)
    assert after_all.transaction_id == after_part.transaction_id


async def test_refunding_an_unpaid_order_is_refused(
    gateway: AlipayGateway, sink: NotifySink
) -> None:
    no = new_no()
    await open_cashier((await gateway.create_order(order(no, 100, sink))).pay_url)
    with pytest.raises(GatewayRefused) as refused:
        await gateway.refund(refund_of(no, no + "R", 100, 100))
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR"


async def test_todays_statement_lists_payments_and_refunds(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    first = await paid_order(gateway, sandbox, sink, 5000)
    second = await paid_order(gateway, sandbox, sink, 1999)
    await gateway.refund(refund_of(first, first + "R1", 1250, 5000))
    ids = {no: (await gateway.query_order(no)).transaction_id for no in (first, second)}

    lines = await gateway.statement(datetime.now(SHANGHAI).date())
    ours = sorted(
        (line for line in lines if line.out_trade_no in ids),
        key=lambda line: (line.out_trade_no, line.kind),
    )
    got = {(line.kind, line.out_trade_no, line.transaction_id, line.amount_fen,
            line.out_refund_no) for line in ours}  # fmt: skip
    assert got == {
        ("payment", first, ids[first], 5000, None),
        ("refund", first, ids[first], 1250, first + "R1"),
        ("payment", second, ids[second], 1999, None),
    }
    for line in ours:
        assert line.at.utcoffset() == timedelta(hours=8)
        assert abs(line.at.timestamp() - time.time()) < 120


async def test_an_adjusted_statement_line_shows_the_changed_amount(
    gateway: AlipayGateway, sandbox: SandboxProcess, sink: NotifySink
) -> None:
    changed = await paid_order(gateway, sandbox, sink, 4200)
    left_out = await paid_order(gateway, sandbox, sink, 4200)
    for body in (
        {"out_trade_no": changed, "amount_fen": 4100},
        {"out_trade_no": left_out, "omit": True},
    ):
        control(sandbox, "POST", "/sandbox/alipay/statement/adjust", json=body).raise_for_status()
    lines = await gateway.statement(datetime.now(SHANGHAI).date())
    amounts = {line.out_trade_no: line.amount_fen for line in lines if line.kind == "payment"}
    assert amounts.get(changed) == 4100
    assert left_out not in amounts
    assert (await gateway.query_order(changed)).amount_fen == 4200  # the trade itself is as paid


async def test_an_answer_checked_against_another_alipay_key_is_not_verified(
    sandbox: SandboxProcess, sink: NotifySink
) -> None:
    config = config_of(sandbox)
    impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    wrong = AlipayGateway(
        AlipayConfig(
            app_id=config.app_id,
            seller_id=config.seller_id,
            app_private_key=config.app_private_key,
            alipay_public_key=impostor_key,
            gateway_url=config.gateway_url,
        )
    )
    try:
        with pytest.raises(ResponseNotVerified):
            await wrong.query_order(new_no())  # even a refusal is used only when verified
        with pytest.raises(ResponseNotVerified):
            await wrong.statement(datetime.now(SHANGHAI).date())
    finally:
        await wrong.aclose()


async def test_a_request_signed_with_another_app_key_is_refused(
    sandbox: SandboxProcess,
) -> None:
    config = config_of(sandbox)
    wrong = AlipayGateway(
        AlipayConfig(
            app_id=config.app_id,
            seller_id=config.seller_id,
            app_private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            alipay_public_key=config.alipay_public_key,
            gateway_url=config.gateway_url,
        )
    )
    try:
        with pytest.raises(GatewayRefused) as refused:
            await wrong.query_order(new_no())
        assert refused.value.code == "isv.invalid-signature"
    finally:
        await wrong.aclose()


def test_the_sandbox_state_has_the_documented_layout(sandbox: SandboxProcess) -> None:
    app = json.loads((sandbox.state_dir / "alipay" / "app.json").read_text())
    config = config_of(sandbox)
    assert (config.app_id, config.seller_id) == (app["app_id"], app["seller_id"])
    assert config.seller_id.startswith("2088")
    assert len(config.seller_id) == 16
