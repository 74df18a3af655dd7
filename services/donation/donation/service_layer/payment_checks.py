"""Asking the gateway: a missed notification is caught by querying the order.

The sweeper (:func:`run_sweeper`, one per instance; row locks keep instances apart) queries
orders still pending ``online_sweep_after_s`` after creation, every
``online_sweep_interval_s``; the result page asks for its own order at most every
:data:`PAGE_CHECK_S`. A paid answer goes through ``apply_gateway_payment`` like a
notification. An order past its expiry that the gateway reports unpaid is closed there
first (so it can no longer be paid) and then here; one the gateway reports closed is closed
here, and one it does not know once it has expired (an Alipay trade exists only from the moment
the donor opens the cashier).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import col, select

from donation.adapters.orm import OnlineOrder, OnlineRefund, PaymentEvent
from donation.config import DonationSettings
from donation.domain.payments import (
    GatewayError,
    GatewayRefund,
    GatewayRefused,
    RefundRequest,
    RefundState,
    TradeState,
)
from donation.service_layer.common import audit, now
from donation.service_layer.online_giving import (
    PAYMENT_OUTCOMES,
    Gateways,
    apply_gateway_payment,
    close_order,
    order_for_update,
)
from shared.aio import stop_if_cancelled
from shared.errors import AppError
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork

log = logging.getLogger("donation.payment_checks")

PAGE_CHECK_S = 3.0
SWEEP_BATCH = 50


async def check_order(runtime: ServiceRuntime, gateways: Gateways, out_trade_no: str) -> bool:
    """Query the gateway about one pending order and act on the answer; True if it changed."""
    async with runtime.unit_of_work() as uow:
        order = await order_for_update(uow, out_trade_no)
        if order is None or order.status != "pending":
            return False
        order.checked_at = now()  # claimed: other instances skip it for an interval
        channel, expires_at = order.channel, order.expires_at
        if channel not in gateways.channels():
            return False  # no longer configured: nothing to ask
        await uow.commit()
    gateway = gateways.get(channel)
    try:
        payment = await gateway.query_order(out_trade_no)
    except GatewayError as exc:
        log.warning("order query failed", extra={"out_trade_no": out_trade_no, "error": str(exc)})
        return False
    expired = now() >= expires_at
    if payment.state is TradeState.UNPAID and expired:
        try:
            await gateway.close_order(out_trade_no)
        except GatewayError as exc:
            log.warning("close failed", extra={"out_trade_no": out_trade_no, "error": str(exc)})
            return False
        # the payer may have paid between the query and the close: ask once more
        try:
            payment = await gateway.query_order(out_trade_no)
        except GatewayError:
            return False
    async with runtime.unit_of_work() as uow:
        if payment.state in (TradeState.PAID, TradeState.REFUNDED):
            try:
                settings = runtime.settings
                below = getattr(settings, "combined_receipt_below_fen", 0)
                result = await apply_gateway_payment(uow, payment, "query", combine_below_fen=below)
            except AppError as exc:  # e.g. the trade number is already another gift's
                log.error(
                    "paid order not applied",
                    extra={"out_trade_no": out_trade_no, "error": exc.message},
                )
                return False
            await uow.commit()
            return result.outcome == "applied"
        # An Alipay wap/page trade exists only once the donor opened the cashier: until the
        # order expires, "not found" means "not opened yet", not "gone".
        if payment.state is TradeState.CLOSED or (
            payment.state in (TradeState.UNPAID, TradeState.NOT_FOUND) and expired
        ):
            reason = "expired" if expired else f"gateway: {payment.state}"
            closed = await close_order(uow, out_trade_no, reason)
            await uow.commit()
            return closed is not None and closed.status == "closed"
    return False


async def check_if_due(
    runtime: ServiceRuntime, gateways: Gateways, out_trade_no: str, checked_at: datetime | None
) -> bool:
    """The result page's check: at most every ``PAGE_CHECK_S`` per order."""
    if checked_at is not None and now() - checked_at < timedelta(seconds=PAGE_CHECK_S):
        return False
    return await check_order(runtime, gateways, out_trade_no)


async def due_orders(uow: SqlUnitOfWork, settings: DonationSettings) -> list[str]:
    at = now()
    older = at - timedelta(seconds=settings.online_sweep_after_s)
    unchecked_since = at - timedelta(seconds=settings.online_sweep_interval_s)
    rows = await uow.session.execute(
        select(col(OnlineOrder.out_trade_no))
        .where(
            col(OnlineOrder.status) == "pending",
            col(OnlineOrder.created_at) < older,
            or_(
                col(OnlineOrder.checked_at).is_(None),
                col(OnlineOrder.checked_at) < unchecked_since,
            ),
        )
        .order_by(col(OnlineOrder.created_at))
        .limit(SWEEP_BATCH)
    )
    return list(rows.scalars())


async def sweep_once(runtime: ServiceRuntime, gateways: Gateways) -> int:
    """One pass over the due orders; returns how many changed."""
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    async with runtime.unit_of_work() as uow:
        due = await due_orders(uow, settings)
    changed = 0
    for out_trade_no in due:
        stop_if_cancelled()
        if await check_order(runtime, gateways, out_trade_no):
            changed += 1
    return changed


REFUND_STATES = {
    RefundState.PROCESSING: "processing",
    RefundState.SUCCESS: "success",
    RefundState.CLOSED: "closed",
    RefundState.ABNORMAL: "failed",
}


async def send_refunds_once(runtime: ServiceRuntime, gateways: Gateways) -> int:
    """Send the booked refunds of online gifts, and follow those the gateway is processing.

    Rows are read under ``FOR UPDATE SKIP LOCKED`` and updated under the row lock; should two
    instances send the same row, nothing is repaid twice: its ``out_refund_no`` never changes,
    and the gateway answers a repeated refund request with the same refund.
    Returns how many rows changed state.
    """
    async with runtime.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(OnlineRefund)
            .where(col(OnlineRefund.status).in_(["pending", "processing"]))
            .order_by(col(OnlineRefund.created_at))
            .limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True)
        )
        claimed = [
            (
                r.id,
                r.status,
                r.channel,
                r.out_trade_no,
                r.out_refund_no,
                r.amount_fen,
                r.total_fen,
                r.reason,
            )
            for r in rows.scalars()
        ]
    changed = 0
    for row_id, status, channel, out_trade_no, out_refund_no, amount, total, reason in claimed:
        stop_if_cancelled()
        if channel not in gateways.channels():
            continue  # a channel no longer configured: left pending, visible to finance
        gateway = gateways.get(channel)
        failure: str | None = None
        try:
            if status == "pending":
                answer = await gateway.refund(
                    RefundRequest(out_trade_no, out_refund_no, amount, total, reason)
                )
            else:
                answer = await gateway.query_refund(out_trade_no, out_refund_no)
        except GatewayRefused as exc:
            answer, failure = None, f"{exc.code}: {exc.message}"
        except GatewayError as exc:
            log.warning(
                "refund not sent", extra={"out_refund_no": out_refund_no, "error": str(exc)}
            )
            continue
        async with runtime.unit_of_work() as uow:
            refund = await uow.session.get(OnlineRefund, row_id, with_for_update=True)
            if refund is None or refund.status not in ("pending", "processing"):
                continue
            before = refund.status
            refund.attempts += 1
            refund.updated_at = now()
            if answer is None:
                refund.status, refund.failure = "failed", (failure or "")[:500]
            else:
                apply_refund_answer(refund, answer)
            if refund.status != before:
                changed += 1
                audit(
                    uow.session,
                    actor=f"online:{channel}",
                    action=f"refund.gateway_{refund.status}",
                    entity="donation",
                    entity_id=str(refund.donation_id),
                    before={"status": before},
                    after={
                        "out_refund_no": out_refund_no,
                        "status": refund.status,
                        "failure": refund.failure,
                    },
                )
            await uow.commit()
    return changed


def apply_refund_answer(refund: OnlineRefund, answer: GatewayRefund) -> None:
    refund.status = REFUND_STATES[answer.state]
    refund.refund_id = answer.refund_id or refund.refund_id
    if answer.state is RefundState.SUCCESS:
        refund.succeeded_at = answer.succeeded_at or now()
    if answer.state is RefundState.ABNORMAL:
        refund.failure = "gateway reports the refund abnormal (退款异常): finance to act"


async def run_sweeper(runtime: ServiceRuntime, gateways: Gateways) -> None:
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    pause = min(settings.online_sweep_interval_s, settings.online_sweep_after_s) / 2
    while True:
        stop_if_cancelled()
        changed = await sweep_once(runtime, gateways)
        changed += await send_refunds_once(runtime, gateways)
        if changed:
            log.info("sweeper settled orders", extra={"changed": changed})
        await asyncio.sleep(pause)


async def record_refund_statement(uow: SqlUnitOfWork, refund: GatewayRefund, source: str) -> None:
    """A gateway's word on a refund, kept with the order's other statements."""
    uow.session.add(
        PaymentEvent(
            at=now(),
            channel=refund.channel,
            source=source,
            out_trade_no=refund.out_trade_no[:64],
            transaction_id=refund.refund_id,
            outcome=f"refund_{refund.state}"[:24],
            amount_fen=refund.refund_fen,
            detail={"out_refund_no": refund.out_refund_no},
        )
    )
    PAYMENT_OUTCOMES.labels(refund.channel, source, f"refund_{refund.state}").inc()
    row = await uow.session.scalar(
        select(OnlineRefund)
        .where(col(OnlineRefund.out_refund_no) == refund.out_refund_no)
        .with_for_update()
    )
    if row is not None and row.status in ("pending", "processing"):
        apply_refund_answer(row, refund)
        row.updated_at = now()
