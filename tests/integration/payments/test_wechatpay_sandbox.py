"""The WeChat Pay adapter against the payment sandbox, in both of its signing modes.

The sandbox runs as a separate process; the notify ``sink`` stands in for our endpoint and
what it receives goes through the adapter's verification exactly as it arrived.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from donation.adapters.wechatpay import WechatPayConfig, WechatPayGateway
from donation.domain.payments import (
    GatewayPayment,
    GatewayRefund,
    GatewayRefused,
    OrderRequest,
    RefundRequest,
    RefundState,
    ResponseNotVerified,
    TradeState,
)
from tests.payment_sandbox_process import NotifySink, Received, SandboxProcess

SHANGHAI = timezone(timedelta(hours=8))
MODES = ["public_key", "platform_cert"]


@pytest.fixture(params=MODES)
def sandbox_process(request: pytest.FixtureRequest) -> SandboxProcess:
    name = "sandbox" if request.param == "public_key" else "sandbox_platform_cert"
    process: SandboxProcess = request.getfixturevalue(name)
    return process


@pytest.fixture
async def gateway(sandbox_process: SandboxProcess) -> AsyncIterator[WechatPayGateway]:
    config = WechatPayConfig.from_sandbox_state(sandbox_process.state_dir, sandbox_process.base_url)
    async with WechatPayGateway(config) as adapter:
        yield adapter


def order_no() -> str:
    return "T" + uuid.uuid4().hex[:24]


def order(no: str, sink: NotifySink, *, scene: str = "native", fen: int = 1234) -> OrderRequest:
    return OrderRequest(
        out_trade_no=no,
        description="阳光红会 · 网上捐款",
        amount_fen=fen,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        scene=scene,  # type: ignore[arg-type]
        client_ip="203.0.113.7",
        notify_url=f"{sink.url}/notify/wechat",
        return_url="https://give.example.org/thanks?no=" + no if scene == "h5" else None,
    )


def control(sandbox: SandboxProcess, method: str, path: str, **kwargs: Any) -> Any:
    with sandbox.controls() as client:
        response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


async def arrivals(sink: NotifySink, count: int) -> list[Received]:
    return await asyncio.to_thread(sink.wait_for, count)


async def paid_order(
    gateway: WechatPayGateway, sandbox: SandboxProcess, sink: NotifySink, fen: int = 1234
) -> tuple[str, GatewayPayment]:
    no = order_no()
    await gateway.create_order(order(no, sink, fen=fen))
    control(sandbox, "POST", f"/sandbox/wechat/orders/{no}/pay", json={"notify": True})
    received = (await arrivals(sink, 1))[0]
    payment = await gateway.verify_notification(received.headers, received.body)
    assert isinstance(payment, GatewayPayment)
    return no, payment


def uses_certificates(gateway: WechatPayGateway, sandbox: SandboxProcess) -> None:
    """Each mode really took its own path: certificates fetched only in platform mode."""
    mode = control(sandbox, "GET", "/healthz")["wechat_sign_mode"]
    assert bool(gateway._certificates) == (mode == "platform_cert")


async def test_native_order_is_paid_notified_verified_and_queried(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    no = order_no()
    created = await gateway.create_order(order(no, sink, fen=2468))
    assert created.show_as_qr
    assert created.pay_url.startswith("weixin://wxpay/bizpayurl?pr=")
    assert (await gateway.query_order(no)).state is TradeState.UNPAID
    state = control(sandbox_process, "GET", f"/sandbox/wechat/orders/{no}")["order"]
    assert state["time_expire_ts"] == pytest.approx(time.time() + 1800, abs=60)
    assert state["notify_url"] == f"{sink.url}/notify/wechat"

    control(sandbox_process, "POST", f"/sandbox/wechat/orders/{no}/pay", json={"notify": True})
    received = (await arrivals(sink, 1))[0]
    assert received.path == "/notify/wechat"
    payment = await gateway.verify_notification(received.headers, received.body)
    assert isinstance(payment, GatewayPayment)
    assert (payment.out_trade_no, payment.state, payment.amount_fen) == (no, TradeState.PAID, 2468)
    assert payment.currency == "CNY"
    assert payment.transaction_id
    assert payment.paid_at is not None
    assert abs(payment.paid_at - datetime.now(UTC)) < timedelta(minutes=1)

    queried = await gateway.query_order(no)
    assert (queried.state, queried.transaction_id, queried.amount_fen) == (
        TradeState.PAID,
        payment.transaction_id,
        2468,
    )
    uses_certificates(gateway, sandbox_process)


async def test_h5_order_opens_a_pay_page_that_returns_to_us(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    no = order_no()
    request = order(no, sink, scene="h5", fen=100)
    created = await gateway.create_order(request)
    assert not created.show_as_qr
    query = parse_qs(urlsplit(created.pay_url).query)
    assert query["redirect_url"] == [request.return_url]
    assert query["prepay_id"][0].startswith("wx")
    page = httpx.get(created.pay_url, timeout=10)
    assert page.status_code == 200
    assert "100" in page.text or "1.00" in page.text

    control(sandbox_process, "POST", f"/sandbox/wechat/orders/{no}/pay", json={"notify": True})
    received = (await arrivals(sink, 1))[0]
    payment = await gateway.verify_notification(received.headers, received.body)
    assert isinstance(payment, GatewayPayment)
    assert (payment.state, payment.amount_fen) == (TradeState.PAID, 100)
    assert (await gateway.query_order(no)).state is TradeState.PAID


async def test_a_closed_order_is_closed_and_cannot_be_paid(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    no = order_no()
    await gateway.create_order(order(no, sink))
    await gateway.close_order(no)
    assert (await gateway.query_order(no)).state is TradeState.CLOSED
    with sandbox_process.controls() as client:
        assert client.post(f"/sandbox/wechat/orders/{no}/pay", json={}).status_code == 409
    assert (await gateway.query_order(order_no())).state is TradeState.NOT_FOUND
    with pytest.raises(GatewayRefused) as refused:
        await gateway.close_order(order_no())
    assert refused.value.code == "ORDER_NOT_EXIST"


async def test_a_refused_notification_is_sent_again_until_accepted(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    answer = gateway.rejection("try again")
    sink.status, sink.body, sink.content_type = answer.status_code, answer.body, answer.media_type
    no = order_no()
    await gateway.create_order(order(no, sink, fen=777))
    control(sandbox_process, "POST", f"/sandbox/wechat/orders/{no}/pay", json={"notify": True})
    await arrivals(sink, 2)
    ack = gateway.acknowledgement()
    # the body first: a request answered meanwhile gets a 500 without one, never a 204 with one
    sink.body = ack.body
    sink.status = ack.status_code
    received = await arrivals(sink, 3)

    deadline = time.monotonic() + 15
    while True:
        log = control(sandbox_process, "GET", "/sandbox/notifications", params={"out_trade_no": no})
        if log and log[-1]["status"] == 204:
            break
        assert time.monotonic() < deadline, log
        await asyncio.sleep(0.05)
    assert [entry["attempt"] for entry in log] == list(range(1, len(log) + 1))
    assert [entry["status"] for entry in log[:-1]] == [500] * (len(log) - 1), [
        (e["status"], e["error"], e["body"]) for e in log
    ]
    assert len(log) >= 3
    await asyncio.sleep(0.3)  # nothing more after the acknowledgement
    again = control(sandbox_process, "GET", "/sandbox/notifications", params={"out_trade_no": no})
    assert len(again) == len(log) == len(sink.received)
    # every attempt is signed afresh and verifies as it arrived
    for item in received:
        payment = await gateway.verify_notification(item.headers, item.body)
        assert isinstance(payment, GatewayPayment)
        assert (payment.out_trade_no, payment.amount_fen) == (no, 777)


async def test_refund_processes_then_succeeds_and_statements_list_it(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    no, payment = await paid_order(gateway, sandbox_process, sink, fen=5000)
    refund_no = "R" + no[1:]
    created = await gateway.refund(
        RefundRequest(no, refund_no, 1500, 5000, "捐赠人申请退回", f"{sink.url}/notify/refund")
    )
    assert (created.state, created.refund_fen, created.out_refund_no) == (
        RefundState.PROCESSING,
        1500,
        refund_no,
    )
    deadline = time.monotonic() + 15
    while (queried := await gateway.query_refund(no, refund_no)).state is RefundState.PROCESSING:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert queried.state is RefundState.SUCCESS
    assert queried.refund_id == created.refund_id
    assert queried.succeeded_at is not None

    received = (await arrivals(sink, 2))[1]
    assert received.path == "/notify/refund"
    notified = await gateway.verify_notification(received.headers, received.body)
    assert isinstance(notified, GatewayRefund)
    assert (notified.out_trade_no, notified.out_refund_no, notified.state) == (
        no,
        refund_no,
        RefundState.SUCCESS,
    )
    assert (notified.refund_fen, notified.refund_id) == (1500, created.refund_id)
    assert (await gateway.query_order(no)).state is TradeState.REFUNDED

    today = datetime.now(SHANGHAI).date()
    lines = [line for line in await gateway.statement(today) if line.out_trade_no == no]
    assert sorted((line.kind, line.amount_fen) for line in lines) == [
        ("payment", 5000),
        ("refund", 1500),
    ]
    refund_line = next(line for line in lines if line.kind == "refund")
    assert (refund_line.out_refund_no, refund_line.refund_id) == (refund_no, created.refund_id)
    assert all(line.transaction_id == payment.transaction_id for line in lines)
    assert all(abs(line.at - datetime.now(UTC)) < timedelta(minutes=2) for line in lines)


async def test_an_adjusted_statement_shows_the_changed_amount(
    gateway: WechatPayGateway, sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    no, _ = await paid_order(gateway, sandbox_process, sink, fen=300)
    today = datetime.now(SHANGHAI).date()

    def amounts(lines: list[Any]) -> list[int]:
        return [line.amount_fen for line in lines if line.out_trade_no == no]

    assert amounts(await gateway.statement(today)) == [300]
    control(sandbox_process, "POST", "/sandbox/wechat/statement/adjust",
            json={"out_trade_no": no, "amount_fen": 299})  # fmt: skip
    assert amounts(await gateway.statement(today)) == [299]
    control(sandbox_process, "POST", "/sandbox/wechat/statement/adjust",
            json={"out_trade_no": no, "omit": True})  # fmt: skip
    assert amounts(await gateway.statement(today)) == []


class Tamper(httpx.AsyncBaseTransport):
    """Passes requests on; changes one byte of each answer whose path contains ``where``."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if self.where in request.url.path and body:
            body = body.replace(b"1", b"2", 1) if b"1" in body else body + b" "
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


# the bill's file is not signed: its SHA1 (in the signed answer naming it) catches a change
@pytest.mark.parametrize(
    "where", ["/v3/pay/", "/v3/certificates", "/v3/bill/tradebill", "/v3/billdownload/"]
)
async def test_a_tampered_answer_is_not_used(
    sandbox_process: SandboxProcess, sink: NotifySink, where: str
) -> None:
    config = WechatPayConfig.from_sandbox_state(sandbox_process.state_dir, sandbox_process.base_url)
    async with (
        WechatPayGateway(config) as plain,
        httpx.AsyncClient(transport=Tamper(where)) as client,
    ):
        tampered = WechatPayGateway(config, client=client)
        no = order_no()
        if where.startswith("/v3/bill"):
            await plain.create_order(order(no, sink))
            control(sandbox_process, "POST", f"/sandbox/wechat/orders/{no}/pay", json={})
            await tampered.query_order(no)  # fetches certificates when it needs them
            why = "SHA1" if where == "/v3/billdownload/" else "Signature does not verify"
            with pytest.raises(ResponseNotVerified, match=why):
                await tampered.statement(datetime.now(SHANGHAI).date())
        else:
            mode = control(sandbox_process, "GET", "/healthz")["wechat_sign_mode"]
            if where == "/v3/certificates" and mode == "public_key":
                pytest.skip("answers are signed with the public key: no certificates fetched")
            with pytest.raises(ResponseNotVerified):
                await tampered.create_order(order(no, sink))


async def test_answers_checked_with_another_key_are_not_verified(
    sandbox_process: SandboxProcess, sink: NotifySink
) -> None:
    config = WechatPayConfig.from_sandbox_state(sandbox_process.state_dir, sandbox_process.base_url)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    mode = control(sandbox_process, "GET", "/healthz")["wechat_sign_mode"]
    if mode == "public_key":
        wrong = dataclasses.replace(config, public_key=stranger)
    else:  # the certificates decrypt only with our APIv3 key
        wrong = dataclasses.replace(config, apiv3_key=b"0" * 32)
    async with WechatPayGateway(wrong) as adapter:
        with pytest.raises(ResponseNotVerified):
            await adapter.create_order(order(order_no(), sink))
        with pytest.raises(ResponseNotVerified):
            await adapter.query_order(order_no())
