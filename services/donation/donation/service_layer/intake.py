"""Gift intake: record a received or pledged gift and announce its arrival.

What happens to a gift afterwards (receipt, cancel, refund, edits) is ``gifts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from donation.adapters.gift_rows import insert_gift
from donation.adapters.orm import Donation, DonationItem, Donor, Project
from donation.domain.commands import RecordDonation
from donation.domain.model import DonationStatus, display_name
from donation.service_layer.common import audit_entry, now, request_notice
from donation.service_layer.incidents import incident_of, require_incident
from shared.contracts.donation import (
    DONATION_PLEDGED,
    DONATION_RECEIVED,
    DonatedItemV1,
    DonationPledgedV1,
    DonationReceivedV1,
    NoticeFactsV1,
)
from shared.errors import Conflict, ValidationFailed
from shared.ids import new_tracking_code, uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.uow import SqlUnitOfWork


async def check_project_open(uow: SqlUnitOfWork, code: str | None) -> Project | None:
    if code is None:
        return None
    project = await uow.session.get(Project, code)
    if project is None:
        raise ValidationFailed(f"项目不存在 (unknown project {code!r})")
    if project.status != "open":
        raise Conflict(f"项目 {code} 已结项，不能再定向捐赠 (project {code} is closed)")
    return project


@dataclass(frozen=True)
class RecordedGift:
    """What intake wrote: enough to answer the request without reading it back."""

    donation: Donation
    donor: Donor
    items: list[DonationItem]


async def record_donation(uow: SqlUnitOfWork, cmd: RecordDonation) -> RecordedGift:
    """Record a received (or pledged) gift and announce it (``donation.received``/``pledged``)."""
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
    project = await check_project_open(uow, cmd.project_code)
    incident = incident_of(
        await require_incident(uow, cmd.incident_code),
        project.incident_code if project is not None else None,
    )
    at = now()
    new_donor: Donor | None = None
    if cmd.donor_id is not None:
        existing = await session.get(Donor, cmd.donor_id)
        if existing is None:
            raise ValidationFailed(f"捐赠人不存在 (unknown donor {cmd.donor_id})")
        donor = existing
    else:
        donor = new_donor = Donor(
            id=uuid7(),
            donor_type=cmd.donor.donor_type,
            name=cmd.donor.name,
            phone=cmd.donor.phone,
            email=cmd.donor.email,
            display=cmd.display,
            notify=cmd.donor.notify,
            created_at=at,
        )
    donation = Donation(
        id=uuid7(),
        tracking_code=new_tracking_code(),
        kind=cmd.kind,
        status=DonationStatus.PLEDGED if cmd.pledged else DonationStatus.RECEIVED,
        amount_fen=cmd.amount_fen,
        channel=cmd.channel,
        external_ref=cmd.external_ref,
        project_code=cmd.project_code,
        display=cmd.display,
        display_name=display_name(donor.name, display=cmd.display, donor_type=donor.donor_type),
        donor_id=donor.id,
        note=cmd.note,
        received_at=cmd.received_at.astimezone(UTC),
        created_at=at,
        created_by=cmd.actor,
        incident_code=incident,
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
    entry = audit_entry(
        actor=cmd.actor,
        action="donation.pledge" if cmd.pledged else "donation.record",
        entity="donation",
        entity_id=str(donation.id),
        after={
            "kind": donation.kind,
            "status": donation.status,
            "amount_fen": donation.amount_fen,
            "channel": donation.channel,
            "project_code": donation.project_code,
            "tracking_code": donation.tracking_code,
            "donor_id": str(donor.id),
        },
    )
    try:
        await insert_gift(session, donor=new_donor, donation=donation, items=items, audit=entry)
    except IntegrityError as exc:
        raise Conflict(f"捐赠记录冲突 (conflicting donation): {exc.orig}") from exc
    if cmd.pledged:
        uow.publish(
            topic=DONATION_EVENTS,
            key=str(donation.id),
            type=DONATION_PLEDGED,
            subject=str(donation.id),
            payload=DonationPledgedV1(
                donation_id=donation.id,
                tracking_code=donation.tracking_code,
                kind=cmd.kind,  # type: ignore[arg-type]
                amount_fen=donation.amount_fen,
                channel=cmd.channel,  # type: ignore[arg-type]
                project_code=donation.project_code,
                display=cmd.display,  # type: ignore[arg-type]
                display_name=donation.display_name,
                donor_type=donor.donor_type,  # type: ignore[arg-type]
                pledged_at=at,
            ),
        )
    else:
        announce_received(uow, donation, donor, items)
    return RecordedGift(donation, donor, items)


def announce_received(
    uow: SqlUnitOfWork, donation: Donation, donor: Donor, items: list[DonationItem]
) -> None:
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(donation.id),
        type=DONATION_RECEIVED,
        subject=str(donation.id),
        payload=DonationReceivedV1(
            donation_id=donation.id,
            tracking_code=donation.tracking_code,
            kind=donation.kind,  # type: ignore[arg-type]
            amount_fen=donation.amount_fen,
            channel=donation.channel,  # type: ignore[arg-type]
            project_code=donation.project_code,
            display=donation.display,  # type: ignore[arg-type]
            display_name=donation.display_name,
            donor_type=donor.donor_type,  # type: ignore[arg-type]
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
            incident_code=donation.incident_code,
        ),
    )
    request_notice(
        uow,
        donor=donor,
        donation=donation,
        milestone="received",
        facts=NoticeFactsV1(
            kind=donation.kind,  # type: ignore[arg-type]
            amount_fen=donation.amount_fen,
            project_code=donation.project_code,
            items=[f"{i.name} {i.quantity}{i.unit}" for i in items],
        ),
    )
