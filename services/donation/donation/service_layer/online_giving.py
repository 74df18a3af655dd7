"""Online giving: a donor's payment order, and the verified payment that turns it into a gift.

An order is written before the gateway hears of it, so every notification finds its order.
Whatever a gateway states about an order — its notification, or our query (the sweeper, the
result page) — goes through :func:`apply_gateway_payment`, under the order's row lock: the
first verified payment of the right amount and currency becomes a gift (``record_donation``,
channel and the gateway's trade number as external reference) and, if the donor wants one,
its receipt at once; every other statement (unknown order, already paid, amount or currency
differs, not paid) changes nothing and is recorded in ``payment_events`` and counted.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from prometheus_client import Counter
from sqlmodel import col, select

from donation.adapters.orm import Donation, OnlineOrder, PaymentEvent, Project, Receipt
from donation.domain.commands import DonorDetails, IssueReceipt, RecordDonation, StartOnlineGift
from donation.domain.payments import (
    GatewayError,
    GatewayPayment,
    OrderRequest,
    PaymentGateway,
    TradeState,
)
from donation.service_layer.common import LOCAL_TZ, audit, now
from donation.service_layer.gifts import issue_receipt
from donation.service_layer.intake import check_project_open, record_donation
from shared.errors import NotFound, ServiceUnavailable, ValidationFailed
from shared.uow import SqlUnitOfWork

log = logging.getLogger("donation.online_giving")

PAYMENT_OUTCOMES = Counter(
    "sunshine_payment_outcomes_total",
    "Gateway statements about online orders, by channel, source (notify, query) and outcome",
    ["channel", "source", "outcome"],
)
NOTIFICATIONS_REJECTED = Counter(
    "sunshine_payment_notifications_rejected_total",
    "Gateway notifications that failed verification, by channel and reason",
    ["channel", "reason"],
)

Source = Literal["notify", "query"]
Outcome = Literal[
    "applied",  # the order became a gift
    "duplicate",  # the order was already paid with this trade
    "conflict",  # the order was already paid with another trade number
    "unknown_order",  # no order of ours with this number and channel
    "amount_mismatch",
    "currency_mismatch",
    "not_paid",  # the gateway says unpaid / closed: nothing to apply
]
ACTOR = {"wechat_pay": "online:wechat_pay", "alipay": "online:alipay"}
PRODUCT_NAME = "阳光红会 · 奉化区红十字会捐赠"


class Gateways:
    """The configured gateways by channel; asking for one not configured is a 422."""

    def __init__(self, gateways: Mapping[str, PaymentGateway]) -> None:
        self._by_channel = dict(gateways)

    def get(self, channel: str) -> PaymentGateway:
        gateway = self._by_channel.get(channel)
        if gateway is None:  # the client chose what this branch does not offer: a 422
            raise ValidationFailed(
                f"暂未开通该支付方式 (payment channel {channel!r} is not offered here; "
                f"offered: {', '.join(self.channels()) or 'none'})"
            )
        return gateway

    def channels(self) -> list[str]:
        return sorted(self._by_channel)


def new_out_trade_no(at: datetime) -> str:
    """``SG`` + the local date + 80 random bits in hex: 30 characters, unguessable."""
    return f"SG{at.astimezone(LOCAL_TZ):%Y%m%d}{secrets.token_hex(10)}"


@dataclass(frozen=True)
class ApplyResult:
    outcome: Outcome
    order: OnlineOrder | None


async def open_order(
    uow: SqlUnitOfWork, cmd: StartOnlineGift, gateway: PaymentGateway, *, ttl: timedelta
) -> OnlineOrder:
    """Write the pending order (the caller commits it before asking the gateway)."""
    if cmd.scene not in gateway.scenes:
        raise ValidationFailed(
            f"支付方式 {cmd.channel} 不支持场景 {cmd.scene} (scene {cmd.scene!r} is not offered "
            f"by {cmd.channel}; choose one of {sorted(gateway.scenes)})"
        )
    await check_project_open(uow, cmd.project_code)
    at = now()
    order = OnlineOrder(
        id=uuid.uuid4(),
        out_trade_no=new_out_trade_no(at),
        channel=cmd.channel,
        scene=cmd.scene,
        amount_fen=cmd.amount_fen,
        project_code=cmd.project_code,
        display=cmd.display,
        donor_type=cmd.donor_type,
        donor_name=cmd.donor_name,
        phone=cmd.phone,
        email=cmd.email,
        credit_code=cmd.credit_code,
        notify=cmd.notify,
        want_receipt=cmd.want_receipt,
        status="pending",
        client_ip=cmd.client_ip,
        expires_at=at + ttl,
        created_at=at,
    )
    uow.session.add(order)
    await uow.session.flush()
    return order


async def open_projects(uow: SqlUnitOfWork) -> list[Project]:
    """The projects a donor may choose on ``/give``."""
    rows = await uow.session.execute(
        select(Project).where(col(Project.status) == "open").order_by(col(Project.code))
    )
    return list(rows.scalars())


async def order_description(uow: SqlUnitOfWork, order: OnlineOrder) -> str:
    if order.project_code is None:
        return f"{PRODUCT_NAME}（非定向）"
    project = await uow.session.get(Project, order.project_code)
    name = project.name if project is not None else order.project_code
    text = f"{PRODUCT_NAME}：{name}"
    while len(text.encode()) > 127:  # WeChat's limit, in bytes of UTF-8
        text = text[:-1]
    return text


def order_request(order: OnlineOrder, description: str, cmd: StartOnlineGift) -> OrderRequest:
    return OrderRequest(
        out_trade_no=order.out_trade_no,
        description=description,
        amount_fen=order.amount_fen,
        expires_at=order.expires_at,
        scene=cmd.scene,  # type: ignore[arg-type]
        client_ip=cmd.client_ip,
        notify_url=cmd.notify_url,
        return_url=cmd.return_url.replace("{out_trade_no}", order.out_trade_no),
    )


async def order_for_update(uow: SqlUnitOfWork, out_trade_no: str) -> OnlineOrder | None:
    return (
        await uow.session.execute(
            select(OnlineOrder)
            .where(col(OnlineOrder.out_trade_no) == out_trade_no)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def get_order(uow: SqlUnitOfWork, out_trade_no: str) -> OnlineOrder:
    order = await uow.session.scalar(
        select(OnlineOrder).where(col(OnlineOrder.out_trade_no) == out_trade_no)
    )
    if order is None:
        raise NotFound("订单不存在 (no such order)")
    return order


def _record(
    uow: SqlUnitOfWork,
    payment: GatewayPayment,
    source: Source,
    outcome: Outcome,
    detail: dict[str, object] | None = None,
) -> None:
    uow.session.add(
        PaymentEvent(
            at=now(),
            channel=payment.channel,
            source=source,
            out_trade_no=payment.out_trade_no[:64],
            transaction_id=(payment.transaction_id or None) and payment.transaction_id[:64],
            outcome=outcome,
            amount_fen=payment.amount_fen,
            detail=detail,
        )
    )
    PAYMENT_OUTCOMES.labels(payment.channel, source, outcome).inc()
    level = logging.INFO if outcome in ("applied", "duplicate", "not_paid") else logging.WARNING
    log.log(
        level,
        "payment %s",
        outcome,
        extra={
            "channel": payment.channel,
            "source": source,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id,
            "amount_fen": payment.amount_fen,
            **(detail or {}),
        },
    )


async def apply_gateway_payment(
    uow: SqlUnitOfWork, payment: GatewayPayment, source: Source, *, combine_below_fen: int = 0
) -> ApplyResult:
    """Apply one verified statement of a gateway; the caller commits. An anonymous gift below
    ``combine_below_fen`` (``DONATION_COMBINED_RECEIPT_BELOW_FEN``) waits for the month's
    combined receipt instead of its own."""
    order = await order_for_update(uow, payment.out_trade_no)
    if order is None or order.channel != payment.channel:
        _record(uow, payment, source, "unknown_order")
        return ApplyResult("unknown_order", None)
    if payment.state not in (TradeState.PAID, TradeState.REFUNDED):
        # REFUNDED still means it was paid once; anything else is not a payment
        if source == "notify":
            _record(uow, payment, source, "not_paid", {"state": str(payment.state)})
        return ApplyResult("not_paid", order)
    if order.status == "paid":
        if payment.transaction_id and payment.transaction_id != order.transaction_id:
            _record(uow, payment, source, "conflict", {"paid_with": order.transaction_id})
            return ApplyResult("conflict", order)
        if source == "notify":  # the sweeper's repeated queries are not worth a row each
            _record(uow, payment, source, "duplicate")
        return ApplyResult("duplicate", order)
    if payment.amount_fen != order.amount_fen:
        _record(uow, payment, source, "amount_mismatch", {"expected_fen": order.amount_fen})
        return ApplyResult("amount_mismatch", order)
    if payment.currency != "CNY":
        _record(uow, payment, source, "currency_mismatch", {"currency": payment.currency})
        return ApplyResult("currency_mismatch", order)
    await _turn_into_gift(uow, order, payment, combine_below_fen)
    _record(uow, payment, source, "applied", {"donation_id": str(order.donation_id)})
    return ApplyResult("applied", order)


def receipted_in_combined(order: OnlineOrder, combine_below_fen: int) -> bool:
    return (
        order.want_receipt
        and order.display == "anonymous"
        and order.credit_code is None
        and order.amount_fen < combine_below_fen
    )


async def _turn_into_gift(
    uow: SqlUnitOfWork, order: OnlineOrder, payment: GatewayPayment, combine_below_fen: int
) -> None:
    at = now()
    actor = ACTOR[order.channel]
    project = await uow.session.get(Project, order.project_code) if order.project_code else None
    note = None
    project_code = order.project_code
    if project is not None and project.status != "open":
        # The money arrived for a project closed meanwhile: it is kept, undesignated for now,
        # and the note tells finance whose choice it was (a designation is never dropped
        # silently; finance moves it with the donor's consent or refunds it).
        note = f"网上捐赠支付时定向项目 {project.code} 已结项，暂作非定向 (project closed)"
        project_code = None
    gift = await record_donation(
        uow,
        RecordDonation(
            kind="money",
            amount_fen=order.amount_fen,
            channel=order.channel,
            display=order.display,
            donor=DonorDetails(
                donor_type=order.donor_type,
                name=order.donor_name,
                phone=order.phone,
                email=order.email,
                notify=order.notify,
            ),
            received_at=payment.paid_at or at,
            actor=actor,
            external_ref=payment.transaction_id or order.out_trade_no,
            project_code=project_code,
            note=note,
        ),
    )
    order.status = "paid"
    order.transaction_id = payment.transaction_id
    order.paid_fen = payment.amount_fen
    order.paid_at = payment.paid_at or at
    order.donation_id = gift.donation.id
    order.updated_at = at
    await uow.session.flush()
    if receipted_in_combined(order, combine_below_fen):
        order.receipt_combined = True  # the month's combined receipt (combined_receipts)
    elif order.want_receipt:
        await issue_receipt(
            uow,
            IssueReceipt(
                donation_id=gift.donation.id,
                actor=actor,
                payer_credit_code=order.credit_code if order.donor_type == "organization" else None,
            ),
        )
    audit(
        uow.session,
        actor=actor,
        action="online_order.paid",
        entity="online_order",
        entity_id=order.out_trade_no,
        after={
            "donation_id": str(gift.donation.id),
            "transaction_id": payment.transaction_id,
            "amount_fen": payment.amount_fen,
        },
    )


async def close_order(uow: SqlUnitOfWork, out_trade_no: str, reason: str) -> OnlineOrder | None:
    order = await order_for_update(uow, out_trade_no)
    if order is None or order.status != "pending":
        return order
    order.status = "closed"
    order.close_reason = reason[:200]
    order.updated_at = now()
    return order


@dataclass(frozen=True)
class OrderView:
    """What the result page shows of an order."""

    order: OnlineOrder
    tracking_code: str | None
    receipt_no: str | None
    project_name: str | None


async def order_view(uow: SqlUnitOfWork, out_trade_no: str) -> OrderView:
    order = await get_order(uow, out_trade_no)
    tracking_code = receipt_no = None
    if order.donation_id is not None:
        donation = await uow.session.get(Donation, order.donation_id)
        tracking_code = donation.tracking_code if donation is not None else None
        receipt_no = await uow.session.scalar(
            select(col(Receipt.receipt_no)).where(
                col(Receipt.donation_id) == order.donation_id, col(Receipt.voided_at).is_(None)
            )
        )
    project_name = None
    if order.project_code is not None:
        project = await uow.session.get(Project, order.project_code)
        project_name = project.name if project is not None else None
    return OrderView(order, tracking_code, receipt_no, project_name)


def gateway_failed(exc: GatewayError) -> ServiceUnavailable:
    return ServiceUnavailable(f"支付平台暂不可用，请稍后再试 (payment gateway failed: {exc})")
