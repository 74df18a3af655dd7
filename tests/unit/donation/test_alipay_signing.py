"""Alipay's RSA2 signing and verification, money, times and statement parsing, with keys made
here (no sandbox): what the adapter signs and what it accepts, down to the byte."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from donation.adapters.alipay import AlipayConfig, AlipayGateway
from donation.adapters.alipay_signing import (
    SHANGHAI,
    StatementFormatError,
    alipay_time,
    fen_to_yuan,
    load_private_key,
    load_public_key,
    parse_detail_csv,
    parse_trade_bill,
    response_content,
    sign_rsa2,
    signing_string,
    top_level_members,
    verify_rsa2,
    yuan_to_fen,
)
from donation.domain.payments import (
    GatewayPayment,
    GatewayRefused,
    GatewayUnavailable,
    NotificationRejected,
    OrderRequest,
    ResponseNotVerified,
    TradeState,
)

APP_ID, SELLER_ID = "2021000000000042", "2088000000000042"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def config(app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> AlipayConfig:
    return AlipayConfig(
        app_id=APP_ID,
        seller_id=SELLER_ID,
        app_private_key=app_key,
        alipay_public_key=alipay_key.public_key(),
        gateway_url="https://openapi.example.test/gateway.do",
    )


# the signing string and signatures
def test_the_signing_string_is_sorted_without_empty_values_or_sign_and_not_encoded() -> None:
    params = {
        "timestamp": "2026-12-07 14:05:09",
        "app_id": APP_ID,
        "sign": "left out",
        "biz_content": '{"subject":"博爱 & 救灾=/?","total_amount":"1.00"}',
        "notify_url": "",
        "sign_type": "RSA2",
        "charset": "utf-8",
    }
    assert signing_string(params) == (
        f"app_id={APP_ID}"
        '&biz_content={"subject":"博爱 & 救灾=/?","total_amount":"1.00"}'
        "&charset=utf-8&sign_type=RSA2&timestamp=2026-12-07 14:05:09"
    )
    assert signing_string(params, exclude=("sign", "sign_type")) == (
        f"app_id={APP_ID}"
        '&biz_content={"subject":"博爱 & 救灾=/?","total_amount":"1.00"}'
        "&charset=utf-8&timestamp=2026-12-07 14:05:09"
    )


def test_rsa2_is_sha256_with_rsa_pkcs1v15(
    app_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    signature = sign_rsa2(app_key, "a=1&b=中文")
    assert len(base64.b64decode(signature)) == 256  # a 2048-bit key's signature
    assert sign_rsa2(app_key, "a=1&b=中文") == signature  # PKCS#1 v1.5 is deterministic
    assert verify_rsa2(app_key.public_key(), "a=1&b=中文", signature)
    assert not verify_rsa2(app_key.public_key(), "a=1&b=中文 ", signature)
    assert not verify_rsa2(other_key.public_key(), "a=1&b=中文", signature)
    assert not verify_rsa2(app_key.public_key(), "a=1&b=中文", "not base64!")


async def test_a_created_order_is_a_signed_gateway_url(
    config: AlipayConfig, app_key: rsa.RSAPrivateKey
) -> None:
    gateway = AlipayGateway(config)
    expires = datetime(2026, 12, 7, 6, 35, 0, tzinfo=UTC)
    created = await gateway.create_order(
        OrderRequest(
            out_trade_no="GIFT20261207a1",
            description="阳光红会 捐款",
            amount_fen=100_005,
            expires_at=expires,
            scene="wap",
            client_ip="203.0.113.7",
            notify_url="https://give.example.org/payments/alipay/notify",
            return_url="https://give.example.org/thanks?g=1",
        )
    )
    await gateway.aclose()
    assert not created.show_as_qr
    url = urlsplit(created.pay_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "openapi.example.test", "/gateway.do")
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    signature = params.pop("sign")
    assert verify_rsa2(app_key.public_key(), signing_string(params), signature)
    assert {k: params[k] for k in ("app_id", "method", "format", "charset", "sign_type")} == {
        "app_id": APP_ID,
        "method": "alipay.trade.wap.pay",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
    }
    assert params["version"] == "1.0"
    assert params["notify_url"] == "https://give.example.org/payments/alipay/notify"
    assert params["return_url"] == "https://give.example.org/thanks?g=1"
    sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)
    biz = json.loads(params["biz_content"])
    assert biz == {
        "out_trade_no": "GIFT20261207a1",
        "total_amount": "1000.05",
        "subject": "阳光红会 捐款",
        "product_code": "QUICK_WAP_WAY",
        "time_expire": "2026-12-07 14:35:00",  # Asia/Shanghai
        "quit_url": "https://give.example.org/thanks?g=1",
    }


async def test_other_scenes_are_not_alipays(config: AlipayConfig) -> None:
    gateway = AlipayGateway(config)
    base = OrderRequest("GIFT1", "捐款", 100, datetime.now(UTC), "native", "::1", "https://n")
    with pytest.raises(ValueError, match="native"):
        await gateway.create_order(base)
    await gateway.aclose()


# notifications
def notify_fields(**changes: str) -> dict[str, str]:
    fields = {
        "notify_time": "2026-12-07 14:06:01",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120722001411111111111111",
        "out_trade_no": "GIFT20261207a1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.80",
        "receipt_amount": "88.80",
        "seller_id": SELLER_ID,
        "buyer_id": "2088102122524333",
        "gmt_create": "2026-12-07 14:05:09",
        "gmt_payment": "2026-12-07 14:05:58",
        "subject": "阳光红会 捐款 & 谢谢=",
        "fund_bill_list": '[{"amount":"88.80","fundChannel":"ALIPAYACCOUNT"}]',
    }
    return fields | changes


def signed_body(fields: dict[str, str], key: rsa.RSAPrivateKey, charset: str = "utf-8") -> bytes:
    signed = fields | {"sign": sign_rsa2(key, signing_string(fields, ("sign", "sign_type")))}
    return urlencode(signed, encoding=charset).encode("ascii")


HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


async def test_a_good_notification_verifies_into_a_payment(
    config: AlipayConfig, alipay_key: rsa.RSAPrivateKey
) -> None:
    notified = await AlipayGateway(config).verify_notification(
        HEADERS, signed_body(notify_fields(), alipay_key)
    )
    assert notified == GatewayPayment(
        channel="alipay",
        out_trade_no="GIFT20261207a1",
        state=TradeState.PAID,
        transaction_id="2026120722001411111111111111",
        amount_fen=8880,
        paid_at=datetime(2026, 12, 7, 6, 5, 58, tzinfo=UTC),
    )
    assert notified.paid_at is not None
    assert notified.paid_at.utcoffset() == timedelta(hours=8)


async def test_a_gbk_notification_verifies(
    config: AlipayConfig, alipay_key: rsa.RSAPrivateKey
) -> None:
    body = signed_body(notify_fields(charset="gbk"), alipay_key, charset="gbk")
    assert "捐款".encode("gbk").hex("%").upper() in body.decode().upper()  # really GBK on the wire
    notified = await AlipayGateway(config).verify_notification(HEADERS, body)
    assert notified.state is TradeState.PAID


@pytest.mark.parametrize(
    ("status", "extra", "state"),
    [
        ("TRADE_FINISHED", {}, TradeState.PAID),
        ("WAIT_BUYER_PAY", {"gmt_payment": ""}, TradeState.UNPAID),
        ("TRADE_CLOSED", {"gmt_payment": ""}, TradeState.CLOSED),
        # a partial refund leaves the trade paid; a full one closes it
        ("TRADE_SUCCESS", {"refund_fee": "10.00", "out_biz_no": "R1"}, TradeState.PAID),
        ("TRADE_CLOSED", {"refund_fee": "88.80", "gmt_refund": "2026-12-07 15:00:00.120"},
         TradeState.REFUNDED),
    ],
)  # fmt: skip
async def test_trade_states(
    config: AlipayConfig,
    alipay_key: rsa.RSAPrivateKey,
    status: str,
    extra: dict[str, str],
    state: TradeState,
) -> None:
    fields = notify_fields(trade_status=status, **extra)
    notified = await AlipayGateway(config).verify_notification(
        HEADERS, signed_body(fields, alipay_key)
    )
    assert notified.state is state
    assert notified.amount_fen == 8880


def tampered_amount(key: rsa.RSAPrivateKey) -> bytes:
    return signed_body(notify_fields(), key).replace(b"total_amount=88.80", b"total_amount=8880")


REJECTIONS: dict[str, tuple[Callable[[rsa.RSAPrivateKey, rsa.RSAPrivateKey], bytes], str]] = {
    "tampered amount": (lambda ali, other: tampered_amount(ali), "signature"),
    "another key": (lambda ali, other: signed_body(notify_fields(), other), "signature"),
    "another app": (
        lambda ali, other: signed_body(notify_fields(app_id="2021000000009999"), ali),
        "app_id",
    ),
    "another seller": (
        lambda ali, other: signed_body(notify_fields(seller_id="2088000000009999"), ali),
        "seller_id",
    ),
    "no sign": (lambda ali, other: urlencode(notify_fields()).encode(), "malformed"),
    "RSA (SHA1)": (
        lambda ali, other: signed_body(notify_fields(sign_type="RSA"), ali),
        "signature",
    ),
    "no seller": (
        lambda ali, other: signed_body(
            {k: v for k, v in notify_fields().items() if k != "seller_id"}, ali
        ),
        "malformed",
    ),
    "paid without an amount": (
        lambda ali, other: signed_body(notify_fields(total_amount=""), ali),
        "malformed",
    ),
    "a float amount": (
        lambda ali, other: signed_body(notify_fields(total_amount="88.8000"), ali),
        "malformed",
    ),
    "an unknown status": (
        lambda ali, other: signed_body(notify_fields(trade_status="TRADE_PENDING"), ali),
        "malformed",
    ),
    "a field twice": (
        lambda ali, other: signed_body(notify_fields(), ali) + b"&trade_status=TRADE_SUCCESS",
        "malformed",
    ),
    "not a form": (lambda ali, other: '{"trade_status":"支付"}'.encode(), "malformed"),
}


@pytest.mark.parametrize("case", REJECTIONS)
async def test_a_bad_notification_is_rejected(
    config: AlipayConfig,
    alipay_key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    case: str,
) -> None:
    make, reason = REJECTIONS[case]
    with pytest.raises(NotificationRejected) as rejected:
        await AlipayGateway(config).verify_notification(HEADERS, make(alipay_key, other_key))
    assert rejected.value.reason == reason


def test_answers_to_alipay(config: AlipayConfig) -> None:
    gateway = AlipayGateway(config)
    ack = gateway.acknowledgement()
    assert (ack.status_code, ack.body, ack.media_type) == (200, b"success", "text/plain")
    no = gateway.rejection("signature: not signed by Alipay's key")
    assert (no.status_code, no.body, no.media_type) == (400, b"fail", "text/plain")


# answers to our calls
RAW = (
    '{"alipay_trade_query_response":{"code":"10000","msg":"Success",'
    '"trade_no":"2026120722001411111111111111","out_trade_no":"GIFT\\/1",'
    '"subject":"\\u9633\\u5149 阳光 \\"红会\\"","trade_status":"TRADE_SUCCESS",'
    '"total_amount":"88.80","send_pay_date":"2026-12-07 14:05:58",'
    '"fund_bill_list":[{"amount":"88.80","fund_channel":"ALIPAYACCOUNT"}]},'
    '"sign":"SIG"}'
)


def test_the_signed_content_is_the_raw_member_text() -> None:
    content, sign = response_content(RAW, "alipay_trade_query_response")
    assert sign == "SIG"
    assert content.startswith('{"code":"10000"')
    assert content.endswith('"ALIPAYACCOUNT"}]}')
    assert '"GIFT\\/1"' in content  # escapes as sent
    assert "\\u9633\\u5149 阳光" in content
    # re-serialising would give other text, which Alipay's signature does not cover
    assert json.dumps(json.loads(content), ensure_ascii=False, separators=(",", ":")) != content


def test_member_spans_whatever_the_order_and_spacing() -> None:
    raw = '{ "sign" : "S" ,\n "x_response" : { "a" : [1, {"b": "}"}] } }'
    assert top_level_members(raw) == {"sign": '"S"', "x_response": '{ "a" : [1, {"b": "}"}] }'}
    for bad in ('{"a":1', '{"a":1,"a":2}', "[1]", '{"a":1} x', ""):
        with pytest.raises(ValueError):  # noqa: PT011
            top_level_members(bad)


def answering(
    body: Callable[[], bytes], status: int = 200
) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body())

    return httpx.AsyncClient(transport=httpx.MockTransport(handle)), seen


def signed_answer(key: rsa.RSAPrivateKey, member: str, content: str) -> bytes:
    return f'{{"{member}":{content},"sign":"{sign_rsa2(key, content)}"}}'.encode()


QUERY = (
    '{"code":"10000","msg":"Success","trade_no":"2026120722001411111111111111",'
    '"out_trade_no":"GIFT\\/1","buyer_logon_id":"don***@example.com",'
    '"trade_status":"TRADE_SUCCESS","total_amount":"88.80","subject":"阳光\\/红会",'
    '"send_pay_date":"2026-12-07 14:05:58"}'
)


async def test_a_verified_answer_is_used(
    config: AlipayConfig, alipay_key: rsa.RSAPrivateKey, app_key: rsa.RSAPrivateKey
) -> None:
    client, seen = answering(
        lambda: signed_answer(alipay_key, "alipay_trade_query_response", QUERY)
    )
    async with client:
        paid = await AlipayGateway(config, client=client).query_order("GIFT/1")
    assert (paid.state, paid.amount_fen) == (TradeState.PAID, 8880)
    assert paid.paid_at == datetime(2026, 12, 7, 6, 5, 58, tzinfo=UTC)
    [request] = seen
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(parse_qsl(request.content.decode("ascii")))
    assert form["method"] == "alipay.trade.query"
    assert json.loads(form["biz_content"]) == {"out_trade_no": "GIFT/1"}
    signature = form.pop("sign")
    assert verify_rsa2(app_key.public_key(), signing_string(form), signature)


@pytest.mark.parametrize(
    "body",
    [
        "tampered",
        "other key",
        "unsigned",
        "not json",
    ],
)
async def test_an_unverified_answer_is_not_used(
    config: AlipayConfig,
    alipay_key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    body: str,
) -> None:
    member = "alipay_trade_query_response"
    bodies = {
        "tampered": signed_answer(alipay_key, member, QUERY).replace(b"88.80", b"8.80"),
        "other key": signed_answer(other_key, member, QUERY),
        "unsigned": f'{{"{member}":{QUERY}}}'.encode(),
        "not json": b"<html>502</html>",
    }
    client, _ = answering(lambda: bodies[body])
    async with client:
        with pytest.raises(ResponseNotVerified):
            await AlipayGateway(config, client=client).query_order("GIFT/1")


async def test_a_verified_refusal_names_its_sub_code(
    config: AlipayConfig, alipay_key: rsa.RSAPrivateKey
) -> None:
    refusal = (
        '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",'
        '"sub_msg":"退款金额超限"}'
    )
    client, _ = answering(lambda: signed_answer(alipay_key, "alipay_trade_close_response", refusal))
    async with client:
        with pytest.raises(GatewayRefused) as refused:
            await AlipayGateway(config, client=client).close_order("GIFT/1")
    assert (refused.value.code, refused.value.message) == (
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限",
    )  # fmt: skip


async def test_trade_not_exist_is_not_found(
    config: AlipayConfig, alipay_key: rsa.RSAPrivateKey
) -> None:
    missing = '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}'
    client, _ = answering(lambda: signed_answer(alipay_key, "alipay_trade_query_response", missing))
    async with client:
        found = await AlipayGateway(config, client=client).query_order("GIFT/1")
    assert found.state is TradeState.NOT_FOUND


async def test_failures_to_reach_alipay_are_unavailable(config: AlipayConfig) -> None:
    client, _ = answering(lambda: b"busy", status=502)
    async with client:
        with pytest.raises(GatewayUnavailable, match="502"):
            await AlipayGateway(config, client=client).query_order("GIFT/1")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as broken:
        with pytest.raises(GatewayUnavailable, match="ConnectError"):
            await AlipayGateway(config, client=broken).query_order("GIFT/1")


# money and time
@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("1", 100), ("1.5", 150), ("12.30", 1230), ("100000000.00", 10_000_000_000),
     ("-3.50", -350), ("0.29", 29), ("1.13", 113)],
)  # fmt: skip
def test_yuan_to_fen_is_exact(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["", "1.234", "1e3", " 1.00", "1,00", "¥1", "NaN", ".5", "1."])
def test_yuan_to_fen_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        yuan_to_fen(text)


def test_fen_to_yuan_round_trips() -> None:
    for fen in (1, 10, 29, 113, 100, 99_999, 10_000_000_000):
        assert yuan_to_fen(fen_to_yuan(fen)) == fen
    assert fen_to_yuan(1) == "0.01"
    assert fen_to_yuan(123_405) == "1234.05"


def test_times_are_in_shanghai() -> None:
    assert alipay_time(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == "2027-01-01 00:30:00"
    with pytest.raises(ValueError, match="aware"):
        alipay_time(datetime(2026, 12, 31, 16, 30))


# keys
def test_keys_load_from_pem_and_from_bare_base64(
    tmp_path: Path, app_key: rsa.RSAPrivateKey
) -> None:
    pem = app_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1
        serialization.NoEncryption(),
    )
    der_public = app_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "app.pem").write_bytes(pem)
    (tmp_path / "alipay.txt").write_text(base64.b64encode(der_public).decode() + "\n")
    config = AlipayConfig.from_files(
        app_id=APP_ID,
        seller_id=SELLER_ID,
        app_private_key_path=tmp_path / "app.pem",
        alipay_public_key_path=tmp_path / "alipay.txt",
    )
    assert config.gateway_url == "https://openapi.alipay.com/gateway.do"
    assert verify_rsa2(config.alipay_public_key, "x", sign_rsa2(config.app_private_key, "x"))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ValueError, match="base64"):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(ValueError, match="base64"):
        load_public_key(tmp_path / "junk.pem")


# the statement
HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def row(trade: str, order: str, kind: str, done: str, amount: str, request_no: str = "") -> str:
    return ",".join([
        trade + "\t", order + "\t", kind + "\t", "阳光红会 捐款", "2026-12-07 09:00:00", done,
        "\t", "\t", "\t", "\t", "don***@example.com\t", amount, amount, "0.00", "0.00", "0.00",
        "0.00", "0.00", "", "0.00", "0.00", request_no + "\t" if request_no else "", "-0.30",
        "0.00", "",
    ])  # fmt: skip


DETAIL = "\r\n".join([
    "#支付宝业务明细查询",
    f"#账号：[{SELLER_ID}0156]",
    "#起始日期：[2026年12月07日 00:00:00]   终止日期：[2026年12月08日 00:00:00]",
    "#-----------------------------------------业务明细列表----------------------------------------",
    HEADER,
    row("2026120722001400000000000001", "GIFTa", "交易", "2026-12-07 09:01:02", "50.00"),
    row("2026120722001400000000000002", "GIFTb", "交易", "2026-12-07 23:59:59", "0.01"),
    row("2026120722001400000000000001", "GIFTa", "退款", "2026-12-07 10:00:00", "-12.50", "R-1"),
    row("2026120722001400000000000001", "GIFTa", "退款", "2026-12-07 11:00:00", "-7.50"),
    row("2026120722001400000000000003", "GIFTc", "收费", "2026-12-07 12:00:00", "1.00"),
    "#-----------------------------------------业务明细列表结束------------------------------------",
    "#交易合计：2笔，商家实收共50.01元，商家优惠共0.00元",
    "#退款合计：2笔，商家实收退款共-20.00元，商家优惠退款共0.00元",
    "#导出时间：[2026年12月08日 09:35:58]",
    "",
])  # fmt: skip
SUMMARY = "\r\n".join([
    "#支付宝业务汇总查询",
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）",
    "合计,,2,2,50.01,30.01",
])  # fmt: skip


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


EXPECTED = [
    ("payment", "GIFTa", "2026120722001400000000000001", 5000, at("2026-12-07 09:01:02"), None),
    ("payment", "GIFTb", "2026120722001400000000000002", 1, at("2026-12-07 23:59:59"), None),
    ("refund", "GIFTa", "2026120722001400000000000001", 1250, at("2026-12-07 10:00:00"), "R-1"),
    # refunded without out_request_no: Alipay numbers it by the order
    ("refund", "GIFTa", "2026120722001400000000000001", 750, at("2026-12-07 11:00:00"), "GIFTa"),
]


def as_tuples(lines: list[Any]) -> list[tuple[Any, ...]]:
    return [(x.kind, x.out_trade_no, x.transaction_id, x.amount_fen, x.at, x.out_refund_no)
            for x in lines]  # fmt: skip


def test_the_detail_csv_parses_into_lines() -> None:
    assert as_tuples(parse_detail_csv(DETAIL)) == EXPECTED


def zipped(entries: dict[str, str], *, gbk_names: bool) -> bytes:
    """A zip as Alipay sends it: GBK contents; names in GBK without the UTF-8 flag (bytes put
    in place of ASCII stand-ins of the same length), or UTF-8 names with the flag."""
    buffer = io.BytesIO()
    stand_ins: dict[bytes, bytes] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, text) in enumerate(entries.items()):
            if gbk_names:
                real = name.encode("gbk")
                stand_in = f"{number:0{len(real)}d}".encode("ascii")
                stand_ins[stand_in] = real
                name = stand_in.decode("ascii")
            archive.writestr(name, text.encode("gbk"))
    data = buffer.getvalue()
    for stand_in, real in stand_ins.items():
        data = data.replace(stand_in, real)
    return data


@pytest.mark.parametrize("gbk_names", [True, False])
def test_the_statement_zip_is_read_from_its_detail_file(gbk_names: bool) -> None:
    entries = {  # the summary first: it must not be taken for the detail
        f"{SELLER_ID}0156_20261207_业务明细(汇总).csv": SUMMARY,
        f"{SELLER_ID}0156_20261207_业务明细.csv": DETAIL,
    }
    data = zipped(entries, gbk_names=gbk_names)
    if gbk_names:
        with zipfile.ZipFile(io.BytesIO(data)) as check:
            assert all(not info.flag_bits & 0x800 for info in check.infolist())
    assert as_tuples(parse_trade_bill(data)) == EXPECTED


def test_a_statement_in_another_format_is_refused() -> None:
    with pytest.raises(StatementFormatError, match="fields"):
        parse_detail_csv(DETAIL.replace("50.00,50.00", "50.00"))
    with pytest.raises(StatementFormatError, match="column"):
        parse_detail_csv(DETAIL.replace("订单金额（元）", "金额"))
    with pytest.raises(StatementFormatError, match="amount"):
        parse_detail_csv(DETAIL.replace("50.00,50.00", "50.001,50.001"))
    with pytest.raises(StatementFormatError, match="no 业务明细"):
        parse_trade_bill(zipped({"x_业务明细(汇总).csv": SUMMARY}, gbk_names=True))
    with pytest.raises(StatementFormatError, match="archive"):
        parse_trade_bill(b"PK not really")
