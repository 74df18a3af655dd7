"""Goods lineage from the warehouse's events: a goods gift's timeline grows with each lot
received, each dispatch that carried its goods, each sign-off; the gift is used per unit
delivered (``used_fen``: each unit signed for at its line's value) and completed when all of
its quantity was delivered.

Goods bought with donated money are followed the same way: a lot whose procurement named the
disbursement that paid for it (``disbursement_id`` in the warehouse's events) is recorded
against that disbursement, so a donor whose gift the disbursement drew on sees the goods and
who signed for them (``service_layer.tracking``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from donation.adapters.orm import Disbursement, Donation, DonationItem, Donor, GoodsLineage
from donation.domain.figures import goods_used_fen, goods_written_off_fen
from donation.domain.lifecycle import goods_status
from donation.service_layer.common import NOTICE_NAMESPACE, notice_channels, now
from donation.service_layer.recipients import record_delivery
from shared.contracts.donation import (
    DONATION_GOODS_TRACKED,
    DONATION_STATUS_CHANGED,
    NOTICE_REQUESTED,
    DonationGoodsTrackedV1,
    DonationStatusChangedV1,
    NoticeFactsV1,
    NoticeRecipientV1,
    NoticeRequestedV1,
)
from shared.contracts.warehouse import (
    DISPATCH_DELIVERED,
    DISPATCH_SHIPPED,
    STOCK_ADJUSTED,
    STOCK_RECEIVED,
    DispatchDeliveredV1,
    DispatchShippedV1,
    StockAdjustedV1,
    StockReceivedV1,
)
from shared.messaging.consumer import EventHandler
from shared.messaging.envelope import CloudEvent
from shared.messaging.outbox import PendingEvent, pending_event, write_outbox
from shared.messaging.topics import DONATION_EVENTS, DONATION_PRIVATE

SOURCE = "/sunshine/donation"


class _Stager:
    """Collects the events a consumer handler causes; written to the outbox in the handler's
    own transaction (the consumer's inbox transaction)."""

    def __init__(self, session: AsyncSession, topic_prefix: str) -> None:
        self.session = session
        self.prefix = topic_prefix
        self.events: list[PendingEvent] = []

    def publish(self, *, topic: str, key: str, type: str, payload: BaseModel) -> None:
        self.events.append(
            pending_event(
                topic=self.prefix + topic,
                key=key,
                type=type,
                source=SOURCE,
                payload=payload,
                subject=key,
            )
        )

    async def flush(self) -> None:
        await write_outbox(self.session, self.events)
        self.events = []


async def _gift(session: AsyncSession, donation_id: uuid.UUID | None) -> Donation | None:
    if donation_id is None:
        return None
    return await session.scalar(
        select(Donation)
        .where(col(Donation.id) == donation_id, col(Donation.kind) == "goods")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _lineage_row(
    event: CloudEvent,
    *,
    stage: str,
    item_code: str,
    item_name: str | None,
    quantity: int,
    unit: str | None,
    lot_id: str | None,
    dispatch_id: str | None,
    destination: str | None,
    signed_by: str | None,
    at: datetime,
    donation_id: uuid.UUID | None = None,
    disbursement_id: uuid.UUID | None = None,
) -> GoodsLineage:
    return GoodsLineage(
        donation_id=donation_id,
        disbursement_id=disbursement_id,
        stage=stage,
        item_code=item_code,
        item_name=item_name,
        quantity=quantity,
        unit=unit,
        lot_id=lot_id,
        dispatch_id=dispatch_id,
        destination=destination,
        signed_by=signed_by,
        at=at,
        source_event_id=event.id,
    )


async def _record(
    session: AsyncSession,
    stager: _Stager,
    donation: Donation,
    event: CloudEvent,
    *,
    stage: str,
    item_code: str,
    item_name: str | None,
    quantity: int,
    unit: str | None,
    lot_id: str | None,
    dispatch_id: str | None,
    destination: str | None,
    signed_by: str | None,
    at: datetime,
) -> None:
    session.add(
        _lineage_row(
            event,
            donation_id=donation.id,
            stage=stage,
            item_code=item_code,
            item_name=item_name,
            quantity=quantity,
            unit=unit,
            lot_id=lot_id,
            dispatch_id=dispatch_id,
            destination=destination,
            signed_by=signed_by,
            at=at,
        )
    )
    stager.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_GOODS_TRACKED,
        payload=DonationGoodsTrackedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            stage=stage,  # type: ignore[arg-type]
            item_code=item_code,
            item_name=item_name,
            quantity=quantity,
            unit=unit,
            lot_id=lot_id,
            dispatch_id=dispatch_id,
            destination=destination,
            signed_by=signed_by,
            at=at,
        ),
    )


async def _advance(session: AsyncSession, stager: _Stager, donation: Donation) -> None:
    await session.flush()
    lines = [
        (i.item_code, i.quantity, i.value_fen)
        for i in await session.scalars(
            select(DonationItem).where(col(DonationItem.donation_id) == donation.id)
        )
    ]
    total = sum(quantity for _, quantity, _ in lines)
    by_item = (
        await session.execute(
            select(
                col(GoodsLineage.stage),
                col(GoodsLineage.item_code),
                func.sum(col(GoodsLineage.quantity)),
            )
            .where(col(GoodsLineage.donation_id) == donation.id)
            .group_by(col(GoodsLineage.stage), col(GoodsLineage.item_code))
        )
    ).all()
    sums: dict[str, int] = {}
    signed: dict[str, int] = {}
    written_off: dict[str, int] = {}
    for stage, item_code, quantity in by_item:
        sums[stage] = sums.get(stage, 0) + int(quantity)
        if stage == "signed":
            signed[item_code] = int(quantity)
        elif stage == "written_off":
            written_off[item_code] = int(quantity)
    before = donation.status
    used_before = donation.used_fen
    written_off_before = donation.written_off_fen
    # used per unit delivered, at the value the donor's line gave each unit; written off alike
    donation.used_fen = goods_used_fen(
        lines, signed, cap_fen=donation.amount_fen - donation.refunded_fen
    )
    donation.written_off_fen = goods_written_off_fen(
        lines,
        written_off,
        amount_fen=donation.amount_fen,
        used_fen=donation.used_fen,
        refunded_fen=donation.refunded_fen,
    )
    donation.status = goods_status(
        before,
        total=total,
        in_stock=int(sums.get("in_stock", 0)),
        distributed=int(sums.get("signed", 0)),
        written_off=int(sums.get("written_off", 0)),
    )
    if donation.status == "completed":
        # everything that arrived was handed out: what was not written off is used
        donation.used_fen = donation.amount_fen - donation.refunded_fen - donation.written_off_fen
    if donation.status == before:
        if (donation.used_fen, donation.written_off_fen) != (used_before, written_off_before):
            donation.version += 1
            donation.updated_at = now()
        return
    donation.version += 1
    donation.updated_at = now()
    stager.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_STATUS_CHANGED,
        payload=DonationStatusChangedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            kind="goods",
            from_status=before,  # type: ignore[arg-type]
            to_status=donation.status,  # type: ignore[arg-type]
            changed_at=now(),
        ),
    )
    if donation.status == "completed":
        donor = await session.get(Donor, donation.donor_id)
        assert donor is not None
        channels = notice_channels(donor)
        if channels:
            towns = sorted(
                {
                    d
                    for d in await session.scalars(
                        select(col(GoodsLineage.destination)).where(
                            col(GoodsLineage.donation_id) == donation.id,
                            col(GoodsLineage.stage) == "signed",
                        )
                    )
                    if d
                }
            )
            stager.publish(
                topic=DONATION_PRIVATE,
                key=str(donation.id),
                type=NOTICE_REQUESTED,
                payload=NoticeRequestedV1(
                    notice_id=uuid.uuid5(NOTICE_NAMESPACE, f"{donation.id}:goods_distributed"),
                    milestone="goods_distributed",
                    donation_id=donation.id,
                    tracking_code=donation.tracking_code,
                    recipient=NoticeRecipientV1(
                        name=donor.name, email=donor.email, phone=donor.phone
                    ),
                    channels=channels,  # type: ignore[arg-type]
                    facts=NoticeFactsV1(
                        kind="goods", amount_fen=donation.amount_fen, destination="、".join(towns)
                    ),
                    requested_at=now(),
                ),
            )


@dataclass(frozen=True)
class _Moved:
    """Goods of one lot that a warehouse event moved, and the gift they came from (if any)."""

    donation_id: uuid.UUID | None
    item_code: str
    item_name: str | None
    quantity: int
    unit: str | None
    lot_id: str
    disbursement_id: uuid.UUID | None = None  # the money that bought the lot, if donated


async def _track(
    session: AsyncSession,
    topic_prefix: str,
    event: CloudEvent,
    moved: Iterable[_Moved],
    *,
    stage: str,
    dispatch_id: str | None,
    destination: str | None,
    signed_by: str | None,
    at: datetime,
) -> None:
    """Record each lot of a goods gift the event moved (nothing moved, or not of a goods gift,
    is passed over) on the gift's timeline, then advance each gift touched, once; a lot bought
    with a disbursement's money on that disbursement's lineage."""
    stager = _Stager(session, topic_prefix)
    touched: dict[uuid.UUID, Donation] = {}
    for lot in moved:
        if lot.quantity <= 0:
            continue
        if lot.donation_id is None and lot.disbursement_id is not None:
            await _record_bought(
                session,
                event,
                lot,
                stage=stage,
                dispatch_id=dispatch_id,
                destination=destination,
                signed_by=signed_by,
                at=at,
            )
            continue
        donation = await _gift(session, lot.donation_id)
        if donation is None:
            continue
        touched[donation.id] = donation
        await _record(
            session,
            stager,
            donation,
            event,
            stage=stage,
            item_code=lot.item_code,
            item_name=lot.item_name,
            quantity=lot.quantity,
            unit=lot.unit,
            lot_id=lot.lot_id,
            dispatch_id=dispatch_id,
            destination=destination,
            signed_by=signed_by,
            at=at,
        )
    for donation in touched.values():
        await _advance(session, stager, donation)
    await stager.flush()


async def _record_bought(
    session: AsyncSession,
    event: CloudEvent,
    lot: _Moved,
    *,
    stage: str,
    dispatch_id: str | None,
    destination: str | None,
    signed_by: str | None,
    at: datetime,
) -> None:
    """A lot bought with a disbursement's money moved: on the disbursement's lineage (a
    disbursement this service does not know is passed over)."""
    known = await session.scalar(
        select(col(Disbursement.id)).where(col(Disbursement.id) == lot.disbursement_id)
    )
    if known is None:
        return
    session.add(
        _lineage_row(
            event,
            disbursement_id=lot.disbursement_id,
            stage=stage,
            item_code=lot.item_code,
            item_name=lot.item_name,
            quantity=lot.quantity,
            unit=lot.unit,
            lot_id=lot.lot_id,
            dispatch_id=dispatch_id,
            destination=destination,
            signed_by=signed_by,
            at=at,
        )
    )


def make_handlers(topic_prefix: str) -> dict[str, EventHandler]:
    async def on_stock_received(session: AsyncSession, event: CloudEvent) -> None:
        received = StockReceivedV1.model_validate(event.data)
        if received.source.source_kind == "transfer":
            # Goods moved between our own warehouses: counted in stock when first received;
            # the transfer's shipment already shows the move on the timeline.
            return
        await _track(
            session,
            topic_prefix,
            event,
            (
                _Moved(
                    lot.donation_id or received.source.donation_id,
                    lot.item_code,
                    lot.item_name,
                    lot.quantity,
                    lot.unit,
                    str(lot.lot_id),
                    lot.disbursement_id or received.source.disbursement_id,
                )
                for lot in received.lots
            ),
            stage="in_stock",
            dispatch_id=None,
            destination=received.warehouse_name,
            signed_by=None,
            at=received.received_at,
        )

    async def on_dispatch_shipped(session: AsyncSession, event: CloudEvent) -> None:
        shipped = DispatchShippedV1.model_validate(event.data)
        await _track(
            session,
            topic_prefix,
            event,
            (
                _Moved(
                    lot.donation_id,
                    line.item_code,
                    line.item_name,
                    lot.quantity,
                    line.unit,
                    str(lot.lot_id),
                    lot.disbursement_id,
                )
                for line in shipped.lines
                for lot in line.lots
            ),
            stage="dispatched",
            dispatch_id=str(shipped.dispatch_id),
            destination=shipped.destination.town or shipped.destination.name,
            signed_by=None,
            at=shipped.shipped_at,
        )

    async def on_dispatch_delivered(session: AsyncSession, event: CloudEvent) -> None:
        delivered = DispatchDeliveredV1.model_validate(event.data)
        if delivered.kind == "transfer":
            # Arrival at another of our warehouses is not distribution: nobody signed for the
            # goods as a recipient, and the gift is not complete until they are handed out.
            return
        await record_delivery(session, delivered)  # whom it reached, for the project's figures
        signer = delivered.recipient_name_masked
        if delivered.recipient_org:
            signer = f"{delivered.recipient_org} {signer}"
        await _track(
            session,
            topic_prefix,
            event,
            (
                _Moved(
                    lot.donation_id,
                    line.item_code,
                    line.item_name,
                    lot.delivered_quantity,
                    line.unit,
                    str(lot.lot_id),
                    lot.disbursement_id,
                )
                for line in delivered.lines
                for lot in line.lots
            ),
            stage="signed",
            dispatch_id=str(delivered.dispatch_id),
            destination=delivered.destination.town or delivered.destination.name,
            signed_by=signer,
            at=delivered.delivered_at,
        )

    async def on_stock_adjusted(session: AsyncSession, event: CloudEvent) -> None:
        adjusted = StockAdjustedV1.model_validate(event.data)
        await _track(
            session,
            topic_prefix,
            event,
            [
                _Moved(
                    adjusted.donation_id,
                    adjusted.item_code,
                    adjusted.item_name,
                    abs(adjusted.delta),
                    adjusted.unit,
                    str(adjusted.lot_id),
                    adjusted.disbursement_id,
                )
            ],
            stage="written_off" if adjusted.delta < 0 else "in_stock",
            dispatch_id=None,
            destination=adjusted.warehouse_code,
            signed_by=None,
            at=adjusted.adjusted_at,
        )

    return {
        STOCK_ADJUSTED: on_stock_adjusted,
        STOCK_RECEIVED: on_stock_received,
        DISPATCH_SHIPPED: on_dispatch_shipped,
        DISPATCH_DELIVERED: on_dispatch_delivered,
    }
