"""Alipay (支付宝开放平台) as a :class:`~donation.domain.payments.PaymentGateway`.

Speaks the classic ``gateway.do`` protocol ("通用版", https://opendocs.alipay.com/common/02kf5q)
in 公钥模式 (the app's RSA2 key pair, and Alipay's public key), with ``httpx.AsyncClient``.
Not python-alipay-sdk / alipay-sdk-python: both are synchronous, and the official one is
barely maintained.

Phone donors get ``alipay.trade.wap.pay``, desktop ones ``alipay.trade.page.pay``: both are
a signed GET URL of the gateway that opens Alipay's cashier (the trade exists at Alipay only
once the payer opened it: until then a query says ACQ.TRADE_NOT_EXIST). Alipay's answers are
checked against its public key over the exact text it signed; its notifications likewise,
and must name our app and our seller (PID) before anything in them is used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from donation.adapters.alipay_signing import (
    SHANGHAI,
    StatementFormatError,
    alipay_time,
    fen_to_yuan,
    load_private_key,
    load_public_key,
    parse_alipay_time,
    parse_trade_bill,
    response_content,
    sign_rsa2,
    signing_string,
    verify_rsa2,
    yuan_to_fen,
)
from donation.domain.payments import (
    CreatedOrder,
    GatewayAnswer,
    GatewayError,
    GatewayPayment,
    GatewayRefund,
    GatewayRefused,
    GatewayUnavailable,
    NotificationRejected,
    OrderRequest,
    PaymentChannel,
    PayScene,
    RefundRequest,
    RefundState,
    ResponseNotVerified,
    StatementLine,
    TradeState,
)
from shared.aio import within

log = logging.getLogger(__name__)

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
PAGE_PAY = {
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
}
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
TRADE_STATUS_ERROR = "ACQ.TRADE_STATUS_ERROR"
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
REFUND_FIELDS = ("refund_fee", "gmt_refund", "out_biz_no")


@dataclass(frozen=True)
class AlipayConfig:
    """One Alipay app in 公钥模式 (public-key mode, not 公钥证书模式)."""

    app_id: str
    seller_id: str  # the merchant's PID: 2088 and 12 digits
    app_private_key: rsa.RSAPrivateKey  # 应用私钥: signs our requests
    alipay_public_key: rsa.RSAPublicKey  # 支付宝公钥: verifies answers and notifications
    gateway_url: str = DEFAULT_GATEWAY
    timeout_s: float = 10.0  # per call to the gateway (and per statement download)

    @classmethod
    def from_files(
        cls,
        *,
        app_id: str,
        seller_id: str,
        app_private_key_path: Path,
        alipay_public_key_path: Path,
        gateway_url: str = DEFAULT_GATEWAY,
        timeout_s: float = 10.0,
    ) -> AlipayConfig:
        """Keys as PEM, or as the bare base64 text the open platform's key tool gives."""
        return cls(
            app_id=app_id,
            seller_id=seller_id,
            app_private_key=load_private_key(app_private_key_path),
            alipay_public_key=load_public_key(alipay_public_key_path),
            gateway_url=gateway_url,
            timeout_s=timeout_s,
        )

    @classmethod
    def from_sandbox_state(
        cls, state_dir: Path, gateway_url: str, *, timeout_s: float = 10.0
    ) -> AlipayConfig:
        """What the payment sandbox issued under ``<state_dir>/alipay/``: app.json
        (app_id, seller_id), app_private_key.pem and alipay_public_key.pem."""
        folder = Path(state_dir) / "alipay"
        app = json.loads((folder / "app.json").read_text(encoding="utf-8"))
        return cls.from_files(
            app_id=str(app["app_id"]),
            seller_id=str(app["seller_id"]),
            app_private_key_path=folder / "app_private_key.pem",
            alipay_public_key_path=folder / "alipay_public_key.pem",
            gateway_url=gateway_url,
            timeout_s=timeout_s,
        )


def _trade_state(status: str, *, refunded: bool) -> TradeState:
    if status in PAID_STATUSES:
        return TradeState.PAID
    if status == "WAIT_BUYER_PAY":
        return TradeState.UNPAID
    if status == "TRADE_CLOSED":
        # closed unpaid (expired or closed by us), or closed after a full refund
        return TradeState.REFUNDED if refunded else TradeState.CLOSED
    raise ValueError(f"unknown trade_status {status!r}")


class AlipayGateway:
    """The port's Alipay adapter. Give it an ``httpx.AsyncClient`` to share one; otherwise
    it makes its own, closed by :meth:`aclose`."""

    channel: PaymentChannel = "alipay"
    scenes: frozenset[PayScene] = frozenset({"wap", "page"})

    def __init__(self, config: AlipayConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    # requests
    def _params(
        self, method: str, biz: Mapping[str, Any], extra: Mapping[str, str | None] | None = None
    ) -> dict[str, str]:
        params = {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": alipay_time(datetime.now(SHANGHAI)),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        for name, value in (extra or {}).items():
            if value:
                params[name] = value
        params["sign"] = sign_rsa2(self.config.app_private_key, signing_string(params))
        return params

    async def _call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        """POST one API call; its verified ``<method>_response`` when code is 10000."""
        params = self._params(method, biz)
        try:
            response = await within(
                self._client.post(
                    self.config.gateway_url,
                    content=urlencode(params).encode("ascii"),
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
                        "Accept": "application/json",
                    },
                ),
                self.config.timeout_s,
            )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise GatewayUnavailable(f"{method}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise GatewayUnavailable(f"{method}: HTTP {response.status_code}")
        fields = self._verified(method, response.content)
        if fields.get("code") != "10000":
            raise GatewayRefused(
                str(fields.get("sub_code") or fields.get("code") or "unknown"),
                str(fields.get("sub_msg") or fields.get("msg") or ""),
            )
        return fields

    def _verified(self, method: str, body: bytes) -> dict[str, Any]:
        key = method.replace(".", "_") + "_response"
        try:
            raw = body.decode("utf-8")
            try:
                content, signature = response_content(raw, key)
            except ValueError:
                # an unknown method or app is answered as error_response
                content, signature = response_content(raw, "error_response")
            fields = json.loads(content)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
            raise ResponseNotVerified(f"{method}: unreadable answer: {exc}") from exc
        if not isinstance(fields, dict):
            raise ResponseNotVerified(f"{method}: {key} is not an object")
        if signature is None or not verify_rsa2(self.config.alipay_public_key, content, signature):
            what = "unsigned" if signature is None else "bad signature"
            raise ResponseNotVerified(
                f"{method}: {what} (code {fields.get('code')} {fields.get('sub_code')})"
            )
        return fields

    # orders
    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        if order.scene not in PAGE_PAY:
            raise ValueError(f"Alipay has no scene {order.scene!r} (wap or page)")
        if order.amount_fen < 1:
            raise ValueError("an order's amount is at least one fen")
        method, product_code = PAGE_PAY[order.scene]
        biz: dict[str, Any] = {
            "out_trade_no": order.out_trade_no,
            "total_amount": fen_to_yuan(order.amount_fen),
            "subject": order.description,
            "product_code": product_code,
            "time_expire": alipay_time(order.expires_at),
        }
        if order.scene == "wap" and order.return_url:
            biz["quit_url"] = order.return_url  # where a payer who gives up goes back to
        params = self._params(
            method, biz, {"notify_url": order.notify_url, "return_url": order.return_url}
        )
        separator = "&" if "?" in self.config.gateway_url else "?"
        return CreatedOrder(
            pay_url=self.config.gateway_url + separator + urlencode(params), show_as_qr=False
        )

    async def query_order(self, out_trade_no: str) -> GatewayPayment:
        try:
            fields = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except GatewayRefused as exc:
            if exc.code == TRADE_NOT_EXIST:
                return GatewayPayment("alipay", out_trade_no, TradeState.NOT_FOUND)
            raise
        if fields.get("out_trade_no") != out_trade_no:
            raise ResponseNotVerified("alipay.trade.query: answered about another order")
        try:
            paid_at = fields.get("send_pay_date")
            state = _trade_state(str(fields.get("trade_status")), refunded=bool(paid_at))
            return GatewayPayment(
                channel="alipay",
                out_trade_no=out_trade_no,
                state=state,
                transaction_id=fields.get("trade_no") or None,
                amount_fen=yuan_to_fen(fields["total_amount"]),
                paid_at=parse_alipay_time(paid_at) if paid_at else None,
            )
        except (KeyError, ValueError) as exc:
            raise GatewayError(f"alipay.trade.query: unexpected answer: {exc}") from exc

    async def close_order(self, out_trade_no: str) -> None:
        try:
            await self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except GatewayRefused as exc:
            if exc.code == TRADE_NOT_EXIST:  # never opened by the payer: nothing to close
                return
            closed = exc.code == TRADE_STATUS_ERROR and (  # closed already is fine; paid not
                (await self.query_order(out_trade_no)).state is TradeState.CLOSED
            )
            if closed:
                return
            raise

    # notifications
    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> GatewayPayment:
        fields = _form_fields(body)
        signature = fields.get("sign")
        if not signature:
            raise NotificationRejected("malformed", "no sign")
        if fields.get("sign_type", "RSA2") != "RSA2":
            raise NotificationRejected("signature", f"sign_type {fields['sign_type']!r}")
        content = signing_string(fields, exclude=("sign", "sign_type"))
        if not verify_rsa2(self.config.alipay_public_key, content, signature):
            raise NotificationRejected("signature", "not signed by Alipay's key")
        for name in ("app_id", "seller_id", "out_trade_no", "trade_status"):
            if not fields.get(name):
                raise NotificationRejected("malformed", f"no {name}")
        if fields["app_id"] != self.config.app_id:
            raise NotificationRejected("app_id", f"for app {fields['app_id']}")
        if fields["seller_id"] != self.config.seller_id:
            raise NotificationRejected("seller_id", f"for seller {fields['seller_id']}")
        status = fields["trade_status"]
        try:
            refunded = any(fields.get(name) for name in REFUND_FIELDS)
            state = _trade_state(status, refunded=refunded)
            if state is TradeState.PAID:
                for name in ("trade_no", "total_amount", "gmt_payment"):
                    if not fields.get(name):
                        raise NotificationRejected("malformed", f"no {name}")
            amount = fields.get("total_amount")
            paid_at = fields.get("gmt_payment")
            return GatewayPayment(
                channel="alipay",
                out_trade_no=fields["out_trade_no"],
                state=state,
                transaction_id=fields.get("trade_no") or None,
                amount_fen=yuan_to_fen(amount) if amount else None,
                paid_at=parse_alipay_time(paid_at) if paid_at else None,
            )
        except ValueError as exc:
            raise NotificationRejected("malformed", str(exc)) from exc

    def acknowledgement(self) -> GatewayAnswer:
        return GatewayAnswer(200, b"success", "text/plain")

    def rejection(self, message: str) -> GatewayAnswer:
        # Alipay retries on anything but the literal "success"; the reason stays with us.
        log.warning("Alipay notification rejected: %s", message)
        return GatewayAnswer(400, b"fail", "text/plain")

    # refunds
    async def refund(self, request: RefundRequest) -> GatewayRefund:
        fields = await self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": request.out_trade_no,
                "refund_amount": fen_to_yuan(request.refund_fen),
                "out_request_no": request.out_refund_no,
                "refund_reason": request.reason,
            },
        )
        if fields.get("fund_change") == "Y":
            refunded_at = fields.get("gmt_refund_pay")
            return GatewayRefund(
                channel="alipay",
                out_trade_no=request.out_trade_no,
                out_refund_no=request.out_refund_no,
                state=RefundState.SUCCESS,
                refund_fen=request.refund_fen,
                succeeded_at=parse_alipay_time(refunded_at) if refunded_at else None,
            )
        # fund_change N: this request was made before (or money has not moved yet): ask
        return await self.query_refund(request.out_trade_no, request.out_refund_no)

    async def query_refund(self, out_trade_no: str, out_refund_no: str) -> GatewayRefund:
        fields = await self._call(
            "alipay.trade.fastpay.refund.query",
            {
                "out_trade_no": out_trade_no,
                "out_request_no": out_refund_no,
                "query_options": ["gmt_refund_pay"],
            },
        )
        try:
            amount = fields.get("refund_amount")
            refund_fen = yuan_to_fen(amount) if amount else 0
            refunded_at = fields.get("gmt_refund_pay")
            succeeded = fields.get("refund_status") == "REFUND_SUCCESS"
            return GatewayRefund(
                channel="alipay",
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                state=RefundState.SUCCESS if succeeded else RefundState.PROCESSING,
                refund_fen=refund_fen,
                succeeded_at=parse_alipay_time(refunded_at) if succeeded and refunded_at else None,
            )
        except ValueError as exc:
            raise GatewayError(f"refund query: unexpected answer: {exc}") from exc

    # statements
    async def statement(self, day: date) -> list[StatementLine]:
        fields = await self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        url = fields.get("bill_download_url")
        if not url:
            raise GatewayError("bill download: no bill_download_url")
        try:  # the link is good for 30 seconds
            response = await within(self._client.get(url), self.config.timeout_s)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise GatewayUnavailable(f"bill download: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(f"bill download: HTTP {response.status_code}")
        if response.status_code != 200:
            raise GatewayError(f"bill download: HTTP {response.status_code}")
        try:
            return parse_trade_bill(response.content)
        except StatementFormatError as exc:
            raise GatewayError(f"bill download: {exc}") from exc


def _form_fields(body: bytes) -> dict[str, str]:
    """A notification's form fields, decoded in the charset it names (utf-8 if none)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise NotificationRejected("malformed", "not URL-encoded") from exc
    charset = "utf-8"
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        if name == "charset" and value:
            charset = value
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, encoding=charset, errors="strict"
        )
    except (ValueError, LookupError) as exc:  # LookupError: an unknown charset
        raise NotificationRejected("malformed", f"form body: {exc}") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise NotificationRejected("malformed", f"{name} given twice")
        fields[name] = value
    return fields
