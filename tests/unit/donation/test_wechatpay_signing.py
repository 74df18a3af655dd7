"""WeChat Pay v3 signing and verification, offline: keys are made here, WeChat Pay's side is
played by the test (signing answers and notifications, encrypting resources)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from donation.adapters import wechatpay_signing as crypto
from donation.adapters.wechatpay import (
    WechatPayConfig,
    WechatPayGateway,
    parse_tradebill,
    yuan_to_fen,
)
from donation.domain.payments import (
    GatewayPayment,
    GatewayRefund,
    GatewayRefused,
    GatewayUnavailable,
    NotificationRejected,
    OrderRequest,
    RefundState,
    ResponseNotVerified,
    TradeState,
)

NOW = dt.datetime(2026, 12, 7, 6, 0, 0, tzinfo=dt.UTC)
MCHID, APPID = "1900000109", "wxd930ea5d5a258f4f"
PUB_KEY_ID = "PUB_KEY_ID_0119000001092026120700000000000001"
APIV3 = b"abcdefghijklmnopqrstuvwxyz012345"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


MERCHANT, WECHAT, STRANGER, PLATFORM, CA = (new_key() for _ in range(5))


def config(**changes: Any) -> WechatPayConfig:
    base = WechatPayConfig(
        mchid=MCHID,
        appid=APPID,
        merchant_serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        merchant_key=MERCHANT,
        apiv3_key=APIV3,
        public_key_id=PUB_KEY_ID,
        public_key=WECHAT.public_key(),
        base_url="https://api.mch.example",
    )
    return dataclasses.replace(base, **changes)


def gateway(
    handler: Callable[[httpx.Request], httpx.Response] | None = None, **changes: Any
) -> WechatPayGateway:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(599)))
    return WechatPayGateway(
        config(**changes), client=httpx.AsyncClient(transport=transport), now=lambda: NOW
    )


def signed_headers(
    body: bytes,
    *,
    key: rsa.RSAPrivateKey = WECHAT,
    serial: str = PUB_KEY_ID,
    at: dt.datetime = NOW,
    signature: str | None = None,
) -> dict[str, str]:
    stamp, nonce = str(int(at.timestamp())), "fdasflkja484w"
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature
        or crypto.sign(key, crypto.answer_message(stamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def transaction(**changes: Any) -> dict[str, Any]:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": "D20261207000001",
        "transaction_id": "4200000001202612071234567890",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "success_time": "2026-12-07T13:59:30+08:00",
        "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY"},
    } | changes


def refund_resource(**changes: Any) -> dict[str, Any]:
    return {
        "mchid": MCHID,
        "out_trade_no": "D20261207000001",
        "transaction_id": "4200000001202612071234567890",
        "out_refund_no": "R20261207000001",
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "success_time": "2026-12-07T14:10:00+08:00",
        "amount": {"total": 1234, "refund": 234, "payer_total": 1234, "payer_refund": 234},
    } | changes


def notification(
    plaintext: dict[str, Any],
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    original_type: str = "transaction",
    apiv3: bytes = APIV3,
    associated_data: str | None = None,
) -> bytes:
    nonce = "fdasfjihihihlkja484w"[:12]
    ciphertext = crypto.encrypt(apiv3, nonce, original_type, json.dumps(plaintext).encode())
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2026-12-07T14:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type if associated_data is None else associated_data,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


# signing


def test_the_request_message_is_method_url_timestamp_nonce_body_each_on_its_line() -> None:
    body = '{"appid":"wxd930ea5d5a258f4f"}'
    message = crypto.request_message(
        "post", "/v3/pay/transactions/native?x=1", "1554208460", "593BEC0C930BF1AF", body
    )
    assert message == (
        "POST\n/v3/pay/transactions/native?x=1\n1554208460\n593BEC0C930BF1AF\n"
        '{"appid":"wxd930ea5d5a258f4f"}\n'
    )
    assert crypto.answer_message("1554208460", "n0nce", b"{}") == b"1554208460\nn0nce\n{}\n"


def test_authorization_carries_a_signature_that_verifies_over_that_message() -> None:
    header = crypto.authorization(
        mchid=MCHID, serial_no="ABC123", key=MERCHANT, method="GET",
        url="/v3/certificates", body="", timestamp="1554208460", nonce="N1",
    )  # fmt: skip
    schema, _, rest = header.partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    assert schema == "WECHATPAY2-SHA256-RSA2048"
    assert fields.keys() == {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"]) == (
        MCHID,
        "ABC123",
        "1554208460",
    )
    message = b"GET\n/v3/certificates\n1554208460\nN1\n\n"
    MERCHANT.public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
    assert not crypto.verify(MERCHANT.public_key(), message + b" ", fields["signature"])


async def test_a_request_is_signed_over_the_path_query_and_body_actually_sent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.dumps(transaction(trade_state="NOTPAY")).encode()
        return httpx.Response(200, content=body, headers=signed_headers(body))

    payment = await gateway(answer).query_order("D20261207000001")
    assert payment.state is TradeState.UNPAID
    request = seen[0]
    assert (
        request.url.raw_path
        == b"/v3/pay/transactions/out-trade-no/D20261207000001?mchid=1900000109"
    )
    fields = dict(re.findall(r'(\w+)="([^"]*)"', request.headers["Authorization"]))
    message = crypto.request_message(
        "GET", request.url.raw_path.decode(), fields["timestamp"], fields["nonce_str"], ""
    )
    assert fields["timestamp"] == str(int(NOW.timestamp()))
    assert crypto.verify(MERCHANT.public_key(), message.encode(), fields["signature"])
    assert request.headers["Accept"] == "application/json"
    assert "sunshine" in request.headers["User-Agent"]


# notifications


async def test_a_good_payment_notification_verifies_into_a_payment() -> None:
    body = notification(transaction())
    headers = {k.lower(): v for k, v in signed_headers(body).items()}  # any case will do
    payment = await gateway().verify_notification(headers, body)
    assert payment == GatewayPayment(
        channel="wechat_pay",
        out_trade_no="D20261207000001",
        state=TradeState.PAID,
        transaction_id="4200000001202612071234567890",
        amount_fen=1234,
        currency="CNY",
        paid_at=dt.datetime(2026, 12, 7, 5, 59, 30, tzinfo=dt.UTC),
    )
    assert payment.paid_at is not None
    assert payment.paid_at.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("status", ["SUCCESS", "ABNORMAL", "CLOSED"])
async def test_a_refund_notification_verifies_into_a_refund(status: str) -> None:
    plain = refund_resource(refund_status=status)
    if status != "SUCCESS":
        del plain["success_time"]
    body = notification(plain, event_type=f"REFUND.{status}", original_type="refund")
    refund = await gateway().verify_notification(signed_headers(body), body)
    assert isinstance(refund, GatewayRefund)
    assert (refund.out_trade_no, refund.out_refund_no, refund.refund_id) == (
        "D20261207000001",
        "R20261207000001",
        "50000000382019052709732678859",
    )
    assert (refund.state, refund.refund_fen) == (RefundState(status.lower()), 234)
    assert (refund.succeeded_at is not None) == (status == "SUCCESS")


def tampered(body: bytes) -> tuple[dict[str, str], bytes]:
    return signed_headers(body), body.replace(b"EV-2018", b"EV-2019")


async def rejected(reason: str, headers: dict[str, str], body: bytes, **changes: Any) -> None:
    with pytest.raises(NotificationRejected) as caught:
        await gateway(**changes).verify_notification(headers, body)
    assert caught.value.reason == reason, caught.value


BODY = notification(transaction())
CASES: dict[str, tuple[str, dict[str, str], bytes, dict[str, Any]]] = {
    "tampered body": ("signature", *tampered(BODY), {}),
    "five minutes and a second old": (
        "timestamp", signed_headers(BODY, at=NOW - dt.timedelta(seconds=301)), BODY, {}
    ),
    "from the future": (
        "timestamp", signed_headers(BODY, at=NOW + dt.timedelta(seconds=301)), BODY, {}
    ),
    "unknown serial": ("serial", signed_headers(BODY, serial="PUB_KEY_ID_OTHER"), BODY, {}),
    "signature probe": (
        "signature", signed_headers(BODY, signature="WECHATPAY/SIGNTEST/ABCDEF=="), BODY, {}
    ),
    "signed with another key": ("signature", signed_headers(BODY, key=STRANGER), BODY, {}),
    "signature not base64": ("signature", signed_headers(BODY, signature="%%%"), BODY, {}),
    "our APIv3 key differs": ("decrypt", signed_headers(BODY), BODY, {"apiv3_key": b"9" * 32}),
    "associated_data altered": (
        "decrypt",
        signed_headers(b := notification(transaction(), associated_data="certificate")),
        b,
        {},
    ),
    "another merchant": (
        "merchant",
        signed_headers(b := notification(transaction(mchid="1900000999"))),
        b,
        {},
    ),
    "another app": (
        "merchant",
        signed_headers(b := notification(transaction(appid="wx0000000000000000"))),
        b,
        {},
    ),
    "refund of another merchant": (
        "merchant",
        signed_headers(
            b := notification(
                refund_resource(mchid="1900000999"),
                event_type="REFUND.SUCCESS",
                original_type="refund",
            )
        ),
        b,
        {},
    ),
    "unknown event": (
        "event_type",
        signed_headers(b := notification(transaction(), event_type="TRANSACTION.FAILED")),
        b,
        {},
    ),
    "no headers": ("malformed", {}, BODY, {}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
async def test_a_notification_failing_a_check_is_rejected(case: str) -> None:
    reason, headers, body, changes = CASES[case]
    await rejected(reason, headers, body, **changes)


@pytest.mark.parametrize("missing", ["Wechatpay-Signature", "Wechatpay-Timestamp",
                                     "Wechatpay-Nonce", "Wechatpay-Serial"])  # fmt: skip
async def test_a_notification_missing_a_header_is_malformed(missing: str) -> None:
    headers = signed_headers(BODY)
    del headers[missing]
    await rejected("malformed", headers, BODY)


async def test_a_notification_just_within_five_minutes_is_accepted() -> None:
    for skew in (-299, 299):
        headers = signed_headers(BODY, at=NOW + dt.timedelta(seconds=skew))
        assert isinstance(await gateway().verify_notification(headers, BODY), GatewayPayment)


def test_the_answers_to_a_notification() -> None:
    adapter = gateway()
    ack = adapter.acknowledgement()
    assert (ack.status_code, ack.body) == (204, b"")
    no = adapter.rejection("验签失败")
    assert no.status_code == 500
    assert json.loads(no.body) == {"code": "FAIL", "message": "验签失败"}


# platform certificates


def certificate(key: rsa.RSAPrivateKey, issuer_key: rsa.RSAPrivateKey, serial: int) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com")]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def ca_certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(CA.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(CA, hashes.SHA256())
    )


SERIAL = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1


def certificates_answer(
    pem: bytes, fetches: list[int]
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/certificates"
        fetches.append(1)
        body = json.dumps({"data": [{
            "serial_no": format(SERIAL, "X"),
            "effective_time": "2026-12-06T14:00:00+08:00",
            "expire_time": "2027-12-07T14:00:00+08:00",
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM", "nonce": "abcdefabcdef",
                "associated_data": "certificate",
                "ciphertext": crypto.encrypt(APIV3, "abcdefabcdef", "certificate", pem),
            },
        }]}).encode()  # fmt: skip
        return httpx.Response(
            200,
            content=body,
            headers=signed_headers(body, key=PLATFORM, serial=format(SERIAL, "X")),
        )

    return answer


async def test_a_platform_certificate_is_fetched_decrypted_cached_and_refetched_only_once() -> None:
    fetches: list[int] = []
    adapter = gateway(
        certificates_answer(certificate(PLATFORM, CA, SERIAL), fetches),
        public_key_id=None, public_key=None, platform_certificates=True,
        platform_ca=ca_certificate(),
    )  # fmt: skip
    headers = signed_headers(BODY, key=PLATFORM, serial=format(SERIAL, "x"))
    for _ in range(2):
        assert isinstance(await adapter.verify_notification(headers, BODY), GatewayPayment)
    assert len(fetches) == 1
    with pytest.raises(NotificationRejected) as caught:
        await adapter.verify_notification(signed_headers(BODY, serial="ABCDEF"), BODY)
    assert caught.value.reason == "serial"
    assert len(fetches) == 1  # fetched a moment ago: not again for every unknown serial


async def test_a_platform_certificate_from_another_ca_is_not_trusted() -> None:
    fetches: list[int] = []
    adapter = gateway(
        certificates_answer(certificate(PLATFORM, STRANGER, SERIAL), fetches),
        public_key_id=None, public_key=None, platform_certificates=True,
        platform_ca=ca_certificate(),
    )  # fmt: skip
    with pytest.raises(NotificationRejected) as caught:
        await adapter.verify_notification(
            signed_headers(BODY, key=PLATFORM, serial=format(SERIAL, "X")), BODY
        )
    assert caught.value.reason == "serial"
    assert isinstance(caught.value.__cause__, ResponseNotVerified)
    assert fetches == [1]


# answers to our calls


def order(scene: str = "h5") -> OrderRequest:
    return OrderRequest(
        out_trade_no="D20261207000001", description="捐款", amount_fen=100,
        expires_at=NOW + dt.timedelta(minutes=30), scene=scene,  # type: ignore[arg-type]
        client_ip="203.0.113.7", notify_url="https://give.example.org/notify/wechat",
        return_url="https://give.example.org/thanks?no=D1&x=中",
    )  # fmt: skip


async def test_an_h5_order_is_sent_as_published_and_gets_the_return_url() -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/pay/transactions/h5"
        sent.append(json.loads(request.content))
        body = b'{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"}'
        return httpx.Response(200, content=body, headers=signed_headers(body))

    created = await gateway(answer).create_order(order())
    assert created.pay_url == (
        "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&redirect_url="
        "https%3A%2F%2Fgive.example.org%2Fthanks%3Fno%3DD1%26x%3D%E4%B8%AD"
    )
    assert not created.show_as_qr
    assert sent[0] == {
        "appid": APPID, "mchid": MCHID, "description": "捐款",
        "out_trade_no": "D20261207000001", "time_expire": "2026-12-07T14:30:00+08:00",
        "notify_url": "https://give.example.org/notify/wechat",
        "amount": {"total": 100, "currency": "CNY"},
        "scene_info": {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}},
    }  # fmt: skip


async def test_an_alipay_scene_is_no_wechat_scene() -> None:
    with pytest.raises(ValueError, match="scene"):
        await gateway().create_order(order("wap"))


def answering(status: int, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return lambda request: httpx.Response(status, content=body, headers=headers or {})


ERROR = b'{"code":"PARAM_ERROR","message":"\xe5\x8f\x82\xe6\x95\xb0\xe9\x94\x99\xe8\xaf\xaf"}'
GOOD = b'{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}'


def raise_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (answering(200, GOOD), ResponseNotVerified),  # unsigned
        (answering(200, GOOD, signed_headers(GOOD, key=STRANGER)), ResponseNotVerified),
        (answering(200, GOOD + b" ", signed_headers(GOOD)), ResponseNotVerified),
        (answering(200, GOOD, signed_headers(GOOD, at=NOW - dt.timedelta(minutes=6))),
         ResponseNotVerified),
        (answering(400, ERROR, signed_headers(ERROR, key=STRANGER)), ResponseNotVerified),
        (answering(400, ERROR, signed_headers(ERROR)), GatewayRefused),
        (answering(400, ERROR), GatewayRefused),  # WeChat Pay's unsigned refusals
        (answering(500, b'{"code":"SYSTEM_ERROR","message":"busy"}'), GatewayUnavailable),
        (answering(429, b'{"code":"FREQUENCY_LIMITED","message":"slow down"}'),
         GatewayUnavailable),
        (raise_connect, GatewayUnavailable),
        (raise_timeout, GatewayUnavailable),
    ],
)  # fmt: skip
async def test_answers_are_used_only_verified(
    handler: Callable[[httpx.Request], httpx.Response], error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        await gateway(handler).create_order(order("native"))
    if isinstance(caught.value, GatewayRefused):
        assert (caught.value.code, caught.value.message) == ("PARAM_ERROR", "参数错误")


async def test_a_signed_answer_is_used() -> None:
    created = await gateway(answering(200, GOOD, signed_headers(GOOD))).create_order(
        order("native")
    )
    assert (created.pay_url, created.show_as_qr) == ("weixin://wxpay/bizpayurl?pr=abc", True)


# money and statements


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("0.29", 29), ("12.30", 1230), ("100", 10000), ("-0.36", -36),
     ("12345678.91", 1234567891), ("0.57", 57)],
)  # fmt: skip
def test_yuan_become_fen_exactly(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["0.001", "abc", "", "NaN", "Infinity", "1,00"])
def test_what_is_no_amount_in_fen_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        yuan_to_fen(text)


HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
PAID = (
    "`2026-12-07 09:15:02,`wxd930ea5d5a258f4f,`1900000109,`0,`,`4200000001202612070000000001,"
    "`D001,`oSbxAAA,`NATIVE,`SUCCESS,`OTHERS,`CNY,`50.29,`0.00,`0,`0,`0.00,`0.00,`,`,"
    "`网上捐款,谢谢,`,`0.30,`0.60%,`50.29,`0.00,`"
)
REFUNDED = (
    "`2026-12-07 10:00:00,`wxd930ea5d5a258f4f,`1900000109,`0,`,`4200000001202612070000000001,"
    "`D001,`oSbxAAA,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000000000000001,`R001,"
    "`20.10,`0.00,`ORIGINAL,`SUCCESS,`网上捐款,谢谢,`,`-0.12,`0.60%,`0.00,`20.10,`"
)
SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def bill(*details: str, count: int | None = None) -> bytes:
    total = len(details) if count is None else count
    lines = [HEADER, *details, SUMMARY, f"`{total},`50.29,`20.10,`0.00,`0.18,`50.29,`20.10"]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_a_trade_bill_becomes_statement_lines() -> None:
    payment, refund = parse_tradebill(bill(PAID, REFUNDED))
    assert (payment.kind, payment.out_trade_no, payment.transaction_id, payment.amount_fen) == (
        "payment", "D001", "4200000001202612070000000001", 5029,
    )  # fmt: skip
    assert payment.at == dt.datetime(2026, 12, 7, 9, 15, 2, tzinfo=SHANGHAI)
    assert (payment.out_refund_no, payment.refund_id) == (None, None)
    assert (refund.kind, refund.amount_fen, refund.out_refund_no, refund.refund_id) == (
        "refund", 2010, "R001", "50300000000000000001",
    )  # fmt: skip
    assert refund.at == dt.datetime(2026, 12, 7, 2, 0, 0, tzinfo=dt.UTC)


def test_a_bill_without_its_summary_or_with_a_wrong_count_is_refused() -> None:
    with pytest.raises(ValueError, match="summary"):
        parse_tradebill(bill(PAID, REFUNDED).rsplit(b"\r\n", 3)[0])
    with pytest.raises(ValueError, match="summary"):
        parse_tradebill(bill(PAID, REFUNDED, count=3))
    assert parse_tradebill(bill(count=0)) == []


async def test_a_downloaded_bill_must_match_its_sha1() -> None:
    content = bill(PAID)

    def answer(digest: str) -> Callable[[httpx.Request], httpx.Response]:
        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v3/billdownload/file":
                return httpx.Response(200, content=content)  # WeChat Pay signs no file
            assert request.url.params["bill_date"] == "2026-12-07"
            assert request.url.params["bill_type"] == "ALL"
            link = "https://api.mch.example/v3/billdownload/file?token=t"
            answer = {"hash_type": "SHA1", "hash_value": digest, "download_url": link}
            body = json.dumps(answer).encode()
            return httpx.Response(200, content=body, headers=signed_headers(body))

        return handle

    good = hashlib.sha1(content).hexdigest()
    lines = await gateway(answer(good)).statement(dt.date(2026, 12, 7))
    assert [(line.out_trade_no, line.amount_fen) for line in lines] == [("D001", 5029)]
    with pytest.raises(ResponseNotVerified):
        await gateway(answer(hashlib.sha1(content + b"x").hexdigest())).statement(
            dt.date(2026, 12, 7)
        )
