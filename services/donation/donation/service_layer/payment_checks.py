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

from donation.adapters.orm import OnlineOrder, PaymentEvent
from donation.config import DonationSettings
from donation.domain.payments import GatewayError, GatewayRefund, TradeState
from donation.service_layer.common import now
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
                result = await apply_gateway_payment(uow, payment, "query")
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


async def run_sweeper(runtime: ServiceRuntime, gateways: Gateways) -> None:
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    pause = min(settings.online_sweep_interval_s, settings.online_sweep_after_s) / 2
    while True:
        stop_if_cancelled()
        changed = await sweep_once(runtime, gateways)
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
