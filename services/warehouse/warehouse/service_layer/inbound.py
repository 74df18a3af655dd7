"""Reactions to donation events: a goods gift becomes an expected inbound."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.donation import DonationReceivedV1
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent
from warehouse.adapters.orm import ExpectedInbound


async def on_donation_received(session: AsyncSession, event: CloudEvent) -> None:
    gift = DonationReceivedV1.model_validate(event.data)
    if gift.kind != "goods":
        return  # money gifts concern the donation service only
    await session.execute(
        insert(ExpectedInbound)
        .values(
            id=uuid7(),
            donation_id=gift.donation_id,
            tracking_code=gift.tracking_code,
            donor_display_name=gift.display_name,
            lines=[item.model_dump(mode="json") for item in gift.items],
            status="expected",
            announced_at=gift.received_at,
        )
        .on_conflict_do_nothing(index_elements=["donation_id"])
    )
