"""The port to a payment gateway (WeChat Pay, Alipay): what online giving needs of one.

The adapters (``donation.adapters.wechatpay``, ``donation.adapters.alipay``) speak the
gateways' published protocols; the service layer sees only these types. Everything a gateway
states about an order reaches us verified: a notification that fails any check raises
:class:`NotificationRejected` and is answered with :meth:`PaymentGateway.rejection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Protocol

PaymentChannel = Literal["wechat_pay", "alipay"]
# WeChat Pay: native (a QR code for a desktop) or h5 (a phone browser);
# Alipay: wap (alipay.trade.wap.pay, phone) or page (alipay.trade.page.pay, desktop).
PayScene = Literal["native", "h5", "wap", "page"]


class TradeState(StrEnum):
    UNPAID = "unpaid"  # WeChat NOTPAY/USERPAYING, Alipay WAIT_BUYER_PAY
    PAID = "paid"  # WeChat SUCCESS, Alipay TRADE_SUCCESS / TRADE_FINISHED
    CLOSED = "closed"  # WeChat CLOSED/REVOKED/PAYERROR, Alipay TRADE_CLOSED (unpaid, expired)
    REFUNDED = "refunded"  # WeChat REFUND (some or all of it went back)
    NOT_FOUND = "not_found"  # the gateway has no such order (never created, or long expired)


class RefundState(StrEnum):
    PROCESSING = "processing"
    SUCCESS = "success"
    CLOSED = "closed"
    ABNORMAL = "abnormal"


@dataclass(frozen=True)
class OrderRequest:
    out_trade_no: str  # ours: 6-32 of [A-Za-z0-9_-], unique per merchant
    description: str  # what the payer sees, at most 127 bytes of UTF-8
    amount_fen: int
    expires_at: datetime  # timezone-aware
    scene: PayScene
    client_ip: str  # WeChat H5 wants the payer's address (scene_info.payer_client_ip)
    notify_url: str  # where the gateway posts its asynchronous notification
    return_url: str | None = None  # where the payer lands after paying (H5 / Alipay)


@dataclass(frozen=True)
class CreatedOrder:
    pay_url: str  # native: the code_url to show as a QR code; otherwise a URL to open
    show_as_qr: bool


@dataclass(frozen=True)
class GatewayPayment:
    """What the gateway, verified, says about one order."""

    channel: PaymentChannel
    out_trade_no: str
    state: TradeState
    transaction_id: str | None = None  # the gateway's trade number
    amount_fen: int | None = None  # what the payer paid (WeChat amount.total, Alipay total_amount)
    currency: str = "CNY"
    paid_at: datetime | None = None  # timezone-aware


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str  # ours, unique per merchant
    refund_fen: int
    total_fen: int  # the order's amount
    reason: str
    notify_url: str | None = None


@dataclass(frozen=True)
class GatewayRefund:
    channel: PaymentChannel
    out_trade_no: str
    out_refund_no: str
    state: RefundState
    refund_fen: int
    refund_id: str | None = None
    succeeded_at: datetime | None = None


@dataclass(frozen=True)
class StatementLine:
    """One line of a gateway's daily statement (对账单)."""

    kind: Literal["payment", "refund"]
    out_trade_no: str
    transaction_id: str
    amount_fen: int  # the payment's amount, or the refund's (positive)
    at: datetime  # timezone-aware
    out_refund_no: str | None = None
    refund_id: str | None = None


@dataclass(frozen=True)
class GatewayAnswer:
    """How we answer a gateway's notification (WeChat: a status and JSON; Alipay: text)."""

    status_code: int
    body: bytes
    media_type: str


class GatewayError(Exception):
    """The gateway could not be used for this call."""


class GatewayUnavailable(GatewayError):
    """Network failure, timeout or a 5xx: nothing is known, try again later."""


class GatewayRefused(GatewayError):
    """The gateway answered, verified, with a business error (code and message as sent)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ResponseNotVerified(GatewayError):
    """The gateway's answer to our call failed its signature check: nothing of it is used."""


class NotificationRejected(Exception):
    """A notification failed a check; ``reason`` is a short label for metrics and logs."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # e.g. signature, timestamp, serial, decrypt, app_id, malformed
        self.detail = detail


Notification = GatewayPayment | GatewayRefund


class PaymentGateway(Protocol):
    channel: PaymentChannel
    scenes: frozenset[PayScene]

    async def create_order(self, order: OrderRequest) -> CreatedOrder: ...

    async def query_order(self, out_trade_no: str) -> GatewayPayment: ...

    async def close_order(self, out_trade_no: str) -> None: ...

    async def verify_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> Notification: ...

    def acknowledgement(self) -> GatewayAnswer: ...

    def rejection(self, message: str) -> GatewayAnswer: ...

    async def refund(self, request: RefundRequest) -> GatewayRefund: ...

    async def query_refund(self, out_trade_no: str, out_refund_no: str) -> GatewayRefund: ...

    async def statement(self, day: date) -> list[StatementLine]: ...
