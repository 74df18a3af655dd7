"""Donation command handlers: change rows and stage events through the unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.orm import AuditEntry, Donation, DonationItem, Donor
from donation.domain.commands import RecordDonation
from donation.domain.model import DonationStatus, display_name
from shared.contracts.donation import DONATION_RECEIVED, DonatedItemV1, DonationReceivedV1
from shared.errors import Conflict
from shared.ids import new_tracking_code, uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.uow import SqlUnitOfWork


async def record_donation(uow: SqlUnitOfWork, cmd: RecordDonation) -> Donation:
    """Record a received gift and announce it (``donation.received``)."""
    session = uow.session
    if cmd.external_ref is not None:
        duplicate = await session.scalar(
            select(col(Donation.id)).where(
                col(Donation.channel) == cmd.channel,
                col(Donation.external_ref) == cmd.external_ref,
            )
        )
        if duplicate is not None:
            raise Conflict(
                f"该渠道的付款流水号已登记 (external reference {cmd.external_ref!r} already "
                f"recorded for channel {cmd.channel}, donation {duplicate})"
            )
    now = datetime.now(UTC)
    donor = Donor(
        id=uuid7(),
        donor_type=cmd.donor.donor_type,
        name=cmd.donor.name,
        phone=cmd.donor.phone,
        email=cmd.donor.email,
        display=cmd.display,
        created_at=now,
    )
    donation = Donation(
        id=uuid7(),
        tracking_code=new_tracking_code(),
        kind=cmd.kind,
        status=DonationStatus.RECEIVED,
        amount_fen=cmd.amount_fen,
        channel=cmd.channel,
        external_ref=cmd.external_ref,
        project_code=cmd.project_code,
        display=cmd.display,
        display_name=display_name(
            cmd.donor.name, display=cmd.display, donor_type=cmd.donor.donor_type
        ),
        donor_id=donor.id,
        note=cmd.note,
        received_at=cmd.received_at,
        created_at=now,
        created_by=cmd.actor,
    )
    items = [
        DonationItem(
            id=uuid7(),
            donation_id=donation.id,
            line_no=n,
            item_code=line.item_code,
            name=line.name,
            quantity=line.quantity,
            unit=line.unit,
            lot_no=line.lot_no,
            expiry_date=line.expiry_date,
            value_fen=line.value_fen,
        )
        for n, line in enumerate(cmd.items, start=1)
    ]
    session.add(donor)
    await session.flush()
    session.add(donation)
    await session.flush()
    session.add_all(items)
    session.add(
        AuditEntry(
            at=now,
            actor=cmd.actor,
            action="donation.record",
            entity="donation",
            entity_id=str(donation.id),
            before=None,
            after={
                "kind": donation.kind,
                "amount_fen": donation.amount_fen,
                "channel": donation.channel,
                "project_code": donation.project_code,
                "tracking_code": donation.tracking_code,
            },
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"捐赠记录冲突 (conflicting donation): {exc.orig}") from exc
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_RECEIVED,
        subject=str(donation.id),
        payload=DonationReceivedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            kind=cmd.kind,  # type: ignore[arg-type]
            amount_fen=donation.amount_fen,
            channel=cmd.channel,  # type: ignore[arg-type]
            project_code=donation.project_code,
            display=cmd.display,  # type: ignore[arg-type]
            display_name=donation.display_name,
            donor_type=cmd.donor.donor_type,  # type: ignore[arg-type]
            received_at=donation.received_at,
            items=[
                DonatedItemV1(
                    item_code=i.item_code,
                    name=i.name,
                    quantity=i.quantity,
                    unit=i.unit,
                    lot_no=i.lot_no,
                    expiry_date=i.expiry_date,
                    value_fen=i.value_fen,
                )
                for i in items
            ],
        ),
    )
    return donation


async def load_donation(
    uow: SqlUnitOfWork, donation_id: uuid.UUID
) -> tuple[Donation, Donor, list[DonationItem]] | None:
    session = uow.session
    donation = await session.get(Donation, donation_id)
    if donation is None:
        return None
    donor = await session.get(Donor, donation.donor_id)
    assert donor is not None
    items = list(
        (
            await session.scalars(
                select(DonationItem)
                .where(col(DonationItem.donation_id) == donation_id)
                .order_by(col(DonationItem.line_no))
            )
        ).all()
    )
    return donation, donor, items
